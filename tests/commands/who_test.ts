import assert from "node:assert/strict";
import { AGENT_COLUMNS } from "../../src/commands/text.ts";
import { commandHarness } from "../support/commands.ts";
import { NOW, rosterHomeserver } from "../support/roster.ts";

Deno.test("who through the CLI: a table for people, the document with --json", async () => {
  await using h = await commandHarness(rosterHomeserver({ member: () => true }));
  await h.login();
  h.clock.time = NOW;
  assert.equal(await h.cli("who", "--all"), 0);
  const [header, ...rows] = h.stdout.lines;
  assert.deepEqual(header.split(/\s{2,}/), AGENT_COLUMNS);
  assert.deepEqual(rows.map((row) => row.split(/\s+/).slice(0, 2)), [
    ["a", "online"],
    ["b", "offline"],
    ["c", "offline"],
  ]);
  h.stdout.text = "";
  assert.equal(await h.cli("who", "--json"), 0);
  const document = JSON.parse(h.stdout.text);
  assert.equal(document.mode, "space");
  assert.deepEqual(document.agents.map((a: { name: string }) => a.name), ["a"]);
});
