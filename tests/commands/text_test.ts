import assert from "node:assert/strict";
import { AGENT_COLUMNS, agentTable, formatAge, formatMessage } from "../../src/commands/text.ts";
import { agentView, messageView } from "../../src/ops/views.ts";
import { agent, MESSAGE } from "../support/fixtures.ts";

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
    ].map(agentView)).split("\n");
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

Deno.test("formatMessage", async (t) => {
  await t.step("an ISO-like UTC timestamp to the second, sender, route and body", () => {
    assert.equal(
      formatMessage(messageView(MESSAGE)),
      "[2023-11-14 22:13:20] @bob:hs (direct): build is green",
    );
  });
  await t.step("each route is shown", () => {
    assert.match(formatMessage(messageView({ ...MESSAGE, route: "broadcast" })), /\(broadcast\): /);
    assert.match(formatMessage(messageView({ ...MESSAGE, route: "mention" })), /\(mention\): /);
  });
  await t.step("a notice is flagged as not to be answered automatically", () => {
    assert.equal(
      formatMessage(
        messageView({ ...MESSAGE, route: "broadcast", msgtype: "m.notice", autoReply: false }),
      ),
      "[2023-11-14 22:13:20] @bob:hs (broadcast, notice: do not auto-reply): build is green",
    );
  });
  await t.step("the epoch is formatted too", () => {
    assert.equal(
      formatMessage(messageView({ ...MESSAGE, ts: 0 })),
      "[1970-01-01 00:00:00] @bob:hs (direct): build is green",
    );
  });
});
