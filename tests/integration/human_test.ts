/** The Element stand-in (matrix-js-sdk) meets cchat's Space on a real Synapse. */
import assert from "node:assert/strict";
import { freshUser, testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";
import { clientFor, spaceManagerFor, uniquePrefix } from "../support/matrix.ts";

Deno.test("a human with a real Matrix client talks with an agent through the Space", async (t) => {
  const hs = await testHomeserver();
  const [agentUser, human] = await Promise.all([freshUser(hs, "agent"), Human.register(hs)]);
  const spaces = spaceManagerFor(hs, agentUser, uniquePrefix());
  const agent = clientFor(hs, agentUser);
  const { spaceId } = await spaces.open();
  assert.ok(spaceId);
  const roomId = await spaces.registerAgent("helper", { host: "h", version: "v" }, spaceId);

  await human.start();
  try {
    await t.step("joins the Space by its alias", async () => {
      assert.equal(await human.joinRoom(spaces.aliases.space), spaceId);
    });

    await t.step("sees the Space and the named agent room in the hierarchy", async () => {
      const rooms = await human.hierarchy(spaceId);
      assert.deepEqual(
        rooms.map((r) => ({ id: r.room_id, name: r.name })).sort((a, b) => a.id < b.id ? -1 : 1),
        [{ id: spaceId, name: "Agents" }, { id: roomId, name: "helper" }]
          .sort((a, b) => a.id < b.id ? -1 : 1),
      );
    });

    await t.step(
      "joins the agent room with no invite and the agent reads the message",
      async () => {
        assert.equal(await human.joinRoom(roomId), roomId);
        const eventId = await human.send(roomId, "hello from Element");
        const { chunk } = await agent.messages(roomId, { limit: 10 });
        const seen = chunk.find((e) => e.event_id === eventId);
        assert.equal(seen?.sender, human.userId);
        assert.equal(seen?.content.body, "hello from Element");
      },
    );

    await t.step("receives the agent's reply live", async () => {
      const reply = human.waitForMessage(
        roomId,
        (e) => e.getSender() === agentUser.userId,
        10_000,
      );
      const eventId = await agent.sendText(roomId, { body: "hello, human" });
      const event = await reply;
      assert.equal(event.getId(), eventId);
      assert.equal(event.getContent().body, "hello, human");
    });
  } finally {
    human.stop();
  }
});
