/**
 * What a human in Element sees of an agent is true: its presence (the dot on
 * its avatar) and its room's topic, read by matrix-js-sdk as Element reads
 * them, after a kill -9 and across quick restarts; and the agent's read
 * receipt arrives within a second of a reader taking the message.
 */
import assert from "node:assert/strict";
import { type MatrixEvent, type Room, RoomEvent } from "matrix-js-sdk";
import { agentCli, eventually, spawnDaemon } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

/** Beats every 20 s: gone for 3 intervals is 60 s, the longest a human may see it online. */
const INTERVAL_S = 20;
const STALE_AFTER_MS = 3 * INTERVAL_S * 1000;

Deno.test("what Element shows of an agent is true after kill -9 and quick restarts", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "truth"), "truth", {
    prefix,
    interval: INTERVAL_S,
  });
  const human = await Human.register(hs);
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const presence = () => human.client.getUser(agent.user.userId)?.presence;
  const topics: string[] = [];
  let roomId = "";
  const topic = () =>
    human.client.getRoom(roomId)?.currentState.getStateEvents("m.room.topic", "")
      ?.getContent().topic as string | undefined;
  const syncing = async (pid: number, timeoutMs?: number) =>
    await eventually(`pid ${pid} syncing`, async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      return status.daemon?.pid === pid && status.daemon?.lastSyncAt ? true : undefined;
    }, timeoutMs);
  let daemon = agent.daemon();
  try {
    await human.joinRoom(`#${prefix}:${hs.serverName}`);
    roomId = await human.joinRoom(`#${prefix}-truth:${hs.serverName}`);
    await human.start();
    human.client.on(RoomEvent.Timeline, (event: MatrixEvent) => {
      if (event.getType() === "m.room.topic") topics.push(event.getContent().topic);
    });
    await syncing(daemon.pid);

    await t.step("running: online, and a topic that says when it started", async () => {
      await eventually(
        "presence online",
        () => Promise.resolve(presence() === "online" || undefined),
      );
      await eventually(
        "the topic",
        () => Promise.resolve(topic()?.startsWith("started on ") || undefined),
      );
    });

    await t.step(
      "kill -9: offline within 3 beat intervals, and no topic ever says online",
      async () => {
        const killedAt = Date.now();
        await daemon.stop("SIGKILL");
        await eventually(
          "presence offline",
          () => Promise.resolve(presence() === "offline" || undefined),
          STALE_AFTER_MS,
        );
        console.log(`offline in Element ${Date.now() - killedAt} ms after kill -9`);
        assert.doesNotMatch(topic() ?? "", /\bonline\b/);
      },
    );

    await t.step("quick restarts: the running agent shows online, never offline", async () => {
      for (let restart = 0; restart < 3; restart++) {
        daemon = agent.daemon();
        await syncing(daemon.pid);
        const stopped = await daemon.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
      daemon = agent.daemon();
      await syncing(daemon.pid);
      const upAt = Date.now();
      await eventually(
        "presence online",
        () => Promise.resolve(presence() === "online" || undefined),
        15_000,
      );
      console.log(`online in Element ${Date.now() - upAt} ms after the last restart synced`);
      await eventually(
        "the started topic",
        () => Promise.resolve(topic()?.startsWith("started on ") || undefined),
      );
      // It stays so: the stopped processes' goodbyes all came before this one's start.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(presence(), "online");
      assert.match(topic() ?? "", /^started on /);
      assert.ok(topics.every((t) => !/\bonline\b/.test(t)), topics.join(" | "));
    });

    await t.step("a message taken by a reader shows as read at once, mid long-poll", async () => {
      const receipts: { eventId: string; at: number }[] = [];
      const onReceipt = (event: MatrixEvent, _room: Room) => {
        for (const [eventId, types] of Object.entries(event.getContent())) {
          if (agent.user.userId in (types["m.read"] ?? {})) {
            receipts.push({ eventId, at: Date.now() });
          }
        }
      };
      human.client.on(RoomEvent.Receipt, onReceipt);
      // Long-polls of 30 s: the receipt must not wait for one to end.
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      daemon = spawnDaemon([], { ...agent.env, CCHAT_SYNC_TIMEOUT: "30" });
      // A restarted daemon's first sync is already a long-poll: it counts once that returns.
      await syncing(daemon.pid, 45_000);
      try {
        const eventId = await human.send(roomId, "read me");
        const received = await agent.run(["wait", "--json", "--timeout", "20"]);
        const takenAt = Date.now();
        assert.equal(JSON.parse(received.stdout).event_id, eventId);
        const seen = await eventually(
          "the receipt",
          () => Promise.resolve(receipts.find((r) => r.eventId === eventId)),
          5_000,
        );
        console.log(`receipt seen ${seen.at - takenAt} ms after wait returned`);
        // Not held back until the 30 s long-poll ends: posted as the reader rang. (Within a second
        // is proven on virtual time in the daemon's unit tests; this run prints its figure.)
        assert.ok(seen.at - takenAt < 10_000, `${seen.at - takenAt} ms`);
      } finally {
        human.client.off(RoomEvent.Receipt, onReceipt);
      }
    });
  } finally {
    human.stop();
    await daemon.stop();
  }
});
