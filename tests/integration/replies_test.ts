/**
 * Answering where a message was asked, against a real Synapse: the daemon
 * numbers what it stores, `cchat reply` posts a rich reply in that room, and
 * the human on matrix-js-sdk sees the agent's read receipt.
 */
import assert from "node:assert/strict";
import { type MatrixEvent, type Room, RoomEvent } from "matrix-js-sdk";
import { agentCli, eventually } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

Deno.test("an agent answers a human in place, and the human sees it read", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "replier"), "replier", { prefix });
  const human = await Human.register(hs);
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const daemon = agent.daemon();
  // Real receipts only: the SDK also makes up receipts for a sender's own events.
  const receipts: { eventId: string; userId: string }[] = [];
  const onReceipt = (event: MatrixEvent, _room: Room) => {
    for (const [eventId, types] of Object.entries(event.getContent())) {
      for (const userId of Object.keys(types["m.read"] ?? {})) receipts.push({ eventId, userId });
    }
  };
  try {
    await human.start();
    human.client.on(RoomEvent.Receipt, onReceipt);
    await human.joinRoom(`#${prefix}:${hs.serverName}`);
    const lobbyId = await human.joinRoom(`#${prefix}-lobby:${hs.serverName}`);
    const roomId = await human.joinRoom(`#${prefix}-replier:${hs.serverName}`);
    // The daemon must be syncing before the message, or it is history, not news.
    await eventually("the daemon's first sync", async () => {
      const status = await agent.run(["status", "--json"]);
      return JSON.parse(status.stdout).daemon?.lastSyncAt ? true : undefined;
    });
    const asked = await human.send(roomId, "what is six times seven?");
    let id = 0;

    await t.step("wait --json returns the message with a short id", async () => {
      const received = await agent.run(["wait", "--json", "--timeout", "20"]);
      assert.equal(received.code, 0, received.stderr);
      const message = JSON.parse(received.stdout);
      assert.equal(message.event_id, asked);
      assert.equal(typeof message.id, "number");
      id = message.id;
    });

    await t.step("the daemon posts the read receipt the reader left", async () => {
      await eventually("the agent's read receipt on the human's message", () =>
        Promise.resolve(
          receipts.some((r) => r.eventId === asked && r.userId === agent.user.userId)
            ? true
            : undefined,
        ));
    });

    await t.step("reply ID lands in the same room as a rich reply", async () => {
      const replied = await agent.run(["reply", String(id), "forty-two"]);
      assert.equal(replied.code, 0, replied.stderr);
      const seen = await human.waitForMessage(
        roomId,
        (e) => e.getId() === replied.stdout.trim(),
        20_000,
      );
      assert.equal(seen.getContent().body, "forty-two");
      assert.equal(seen.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id, asked);
    });

    await t.step(
      "send --reply with an unknown id is a usage error, and sends nothing",
      async () => {
        const refused = await agent.run(["send", "--reply", "999999", "never sent"]);
        assert.equal(refused.code, 2, refused.stderr);
        assert.match(refused.stderr, /No message "999999" is in the inbox\./);
        assert.match(refused.stderr, /cchat inbox --peek/);
        // Sends arrive in order: once this one is seen, the refused one would have been too.
        const marker = await agent.run(["send", "marker"]);
        assert.equal(marker.code, 0, marker.stderr);
        await human.waitForMessage(lobbyId, (e) => e.getId() === marker.stdout.trim(), 20_000);
        for (const room of [lobbyId, roomId]) {
          const bodies = human.client.getRoom(room)!.getLiveTimeline().getEvents()
            .map((e) => e.getContent().body);
          assert.ok(!bodies.includes("never sent"), room);
        }
      },
    );
  } finally {
    human.client.off(RoomEvent.Receipt, onReceipt);
    human.stop();
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});
