import assert from "node:assert/strict";
import { AGENT_COLUMNS, agentJson, agentTable, formatAge } from "../../src/commands/agents_view.ts";
import type { Agent } from "../../src/space/agents.ts";

const agent = (name: string, overrides: Partial<Agent> = {}): Agent => ({
  name,
  userId: `@${name}:hs`,
  roomId: `!${name}`,
  alias: `#agents-${name}:hs`,
  status: "online",
  lastBeatAgeMs: 5_000,
  host: "box",
  version: "0.1.0",
  ...overrides,
});

Deno.test("formatAge", () => {
  assert.deepEqual(
    [null, 0, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_000].map(formatAge),
    ["never", "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "1d ago"],
  );
});

Deno.test("agentTable", async (t) => {
  await t.step("sorted rows under the fixed columns", () => {
    const lines = agentTable([
      agent("zed", { status: "offline", lastBeatAgeMs: null, host: "" }),
      agent("amy"),
    ]).split("\n");
    assert.deepEqual(lines[0].split(/\s{2,}/), AGENT_COLUMNS);
    assert.deepEqual(lines[1].split(/\s{2,}/), [
      "amy",
      "online",
      "5s ago",
      "box",
      "#agents-amy:hs",
    ]);
    assert.deepEqual(lines[2].split(/\s{2,}/), ["zed", "offline", "never", "-", "#agents-zed:hs"]);
  });
  await t.step("says so when there is nobody", () => {
    assert.equal(agentTable([]), "No agents yet.");
  });
});

Deno.test("agentJson uses snake_case keys", () => {
  assert.deepEqual(agentJson(agent("amy")), {
    name: "amy",
    status: "online",
    last_beat_age_ms: 5000,
    host: "box",
    version: "0.1.0",
    user_id: "@amy:hs",
    room_id: "!amy",
    room_alias: "#agents-amy:hs",
  });
});
