/** The Element stand-in (matrix-js-sdk) meets cchat's Space on a real Synapse. */
import assert from "node:assert/strict";
import { openDirectory } from "../../src/space/directory.ts";
import { registerAgent } from "../../src/space/registration.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor, spaceEnvFor } from "../../harness/matrix.ts";
import { Human } from "../support/human.ts";

Deno.test("a human on matrix-js-sdk talks with an agent through the Space", async (t) => {
  const hs = await testHomeserver();
  const [agentUser, human] = await Promise.all([freshUser(hs, "agent"), Human.register(hs)]);
  const agent = clientFor(hs, agentUser);
  const spaces = spaceEnvFor(hs, agentUser, uniquePrefix(), agent);
  const directory = await openDirectory(spaces, "create");
  const spaceId = directory?.spaceId;
  assert.ok(spaceId, "the agent opened the Space");
  const { roomId } = await registerAgent(spaces, "helper", { host: "h", version: "v" }, spaceId);
  const fromAgent = (e: { getSender(): string | undefined }) => e.getSender() === agentUser.userId;

  try {
    await human.start();

    await t.step("joins the Space by its alias", async () => {
      assert.equal(await human.joinRoom(spaces.aliases.space), spaceId);
    });

    await t.step(
      "the hierarchy lists the Space, the lobby and the agent room by name",
      async () => {
        const rooms = await human.hierarchy(spaceId);
        assert.deepEqual(
          new Map(rooms.map((r) => [r.room_id, r.name])),
          new Map([[spaceId, "Agents"], [directory.lobbyId, "Agents lobby"], [roomId, "helper"]]),
        );
      },
    );

    await t.step("joins the agent room with no invite; the agent reads the message", async () => {
      assert.equal(await human.joinRoom(roomId), roomId);
      const eventId = await human.send(roomId, "hello from Element");
      const { chunk } = await agent.messages(roomId, { limit: 10 });
      const seen = chunk.find((e) => e.event_id === eventId);
      assert.equal(seen?.sender, human.userId);
      assert.equal(seen?.content.body, "hello from Element");
    });

    await t.step("receives the agent's reply as it arrives", async () => {
      const reply = human.waitForMessage(roomId, fromAgent, 10_000);
      const eventId = await agent.sendText(roomId, { body: "hello, human" });
      const event = await reply;
      assert.equal(event.getId(), eventId);
      assert.equal(event.getContent().body, "hello, human");
    });

    await t.step("finds a message already in the timeline at once", async () => {
      const event = await human.waitForMessage(roomId, fromAgent, 0);
      assert.equal(event.getContent().body, "hello, human");
    });

    await t.step("gives up with a clear error when nothing matches", async () => {
      await assert.rejects(
        human.waitForMessage(roomId, () => false, 200),
        new RegExp(`No matching m\\.room\\.message arrived in ${roomId} within 200 ms`),
      );
    });
  } finally {
    human.stop();
  }
});
