/**
 * Separate processes of one account share what a 429 taught: a burst of
 * `cchat send` processes against low limits all succeed, because waiting
 * behind another process's 429 is not an attempt.
 */
import assert from "node:assert/strict";
import { agentCli } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";

/** Four times the limited server's message burst, all at once. */
const PROCESSES = 12;

Deno.test("a burst of send processes from one account all succeed against low limits", async () => {
  const hs = await testHomeserver("limited");
  await using agent = await agentCli(hs, await freshUser(hs, "shared"), "burst", {
    prefix: uniquePrefix(),
  });
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const results = await Promise.all(
    Array.from({ length: PROCESSES }, (_, i) => agent.run(["send", "--json", `message ${i}`])),
  );
  const failures = results.filter((r) => r.code !== 0).map((r) => `${r.code}: ${r.stderr.trim()}`);
  assert.deepEqual(failures, []);
  const eventIds = results.map((r) => JSON.parse(r.stdout).event_id);
  assert.equal(new Set(eventIds).size, PROCESSES);
});
