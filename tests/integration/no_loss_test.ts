/**
 * 8. No loss and no duplicates: 200 messages reach an agent whose daemon is
 * killed with SIGKILL once and whose homeserver restarts once.
 */
import assert from "node:assert/strict";
import { realSleep } from "../../src/deps.ts";
import { MatrixError, NetworkError } from "../../src/errors.ts";
import { startHomeserver, stopHomeserver } from "../../harness/homeserver/mod.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver, testHomeserverOptions } from "../support/homeserver.ts";
import { clientFor } from "../../harness/matrix.ts";
import { agentCli, eventually, statuses } from "../../harness/cli.ts";

const N = 200;

Deno.test("8. 200 messages through a SIGKILL and a homeserver restart: all of them, once each", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "steady"), "steady", { prefix });
  const sender = clientFor(hs, await freshUser(hs, "sender"), { requestTimeoutMs: 5_000 });
  let daemon = agent.daemon();
  try {
    await eventually(
      "the agent online",
      async () => (await statuses(agent)).steady === "online" ? true : undefined,
    );
    const roomId = (await sender.resolveAlias(`#${prefix}-steady:${hs.serverName}`)).roomId;
    await sender.join(`#${prefix}:${hs.serverName}`);
    await sender.join(roomId, [hs.serverName]);

    let sent = 0;
    const run = crypto.randomUUID();
    const sending = (async () => {
      for (let i = 0; i < N; i++) {
        // A retried send reuses its transaction id, so the server keeps one copy.
        for (;;) {
          try {
            await sender.sendText(roomId, { body: `message ${i}` }, `${run}-${i}`);
            break;
          } catch (err) {
            if (!(err instanceof NetworkError || err instanceof MatrixError && err.status >= 500)) {
              throw err;
            }
            await realSleep(300);
          }
        }
        sent = i + 1;
        await realSleep(15);
      }
    })();
    const reach = (count: number) =>
      eventually(`${count} sent`, () => Promise.resolve(sent >= count ? true : undefined), 60_000);

    await reach(40);
    await daemon.stop("SIGKILL");
    // More than the filter's timeline limit arrive while it is down, so the restart must backfill.
    await reach(110);
    daemon = agent.daemon();
    await reach(150);
    const options = testHomeserverOptions("fast");
    await stopHomeserver(options.dataDir);
    await realSleep(500);
    await startHomeserver(options);
    await sending;

    const bodies = await eventually(`all ${N} in the inbox`, async () => {
      const result = await agent.run(["inbox", "--json", "--peek"]);
      const inbox = JSON.parse(result.stdout) as { event_id: string; body: string }[];
      return inbox.length >= N ? inbox : undefined;
    }, 90_000);
    assert.equal(bodies.length, N);
    assert.equal(new Set(bodies.map((m) => m.event_id)).size, N);
    assert.deepEqual(
      bodies.map((m) => m.body).sort(),
      Array.from({ length: N }, (_, i) => `message ${i}`).sort(),
    );
  } finally {
    const stopped = await daemon.stop();
    if (stopped.code !== 0) console.error(stopped.stderr);
  }
});
