/** What people browsing cchat's Space see: no guests, the lobby among its children, Explore. */
import assert from "node:assert/strict";
import { openDirectory } from "../../src/space/directory.ts";
import type { SpaceEnv } from "../../src/space/env.ts";
import { enter, registerAgent } from "../../src/space/registration.ts";
import { listAgents } from "../../src/space/roster.ts";
import {
  freshUser,
  type TestHomeserver,
  type TestUser,
  uniquePrefix,
} from "../../harness/users.ts";
import { clientFor, CollectingLogger, spaceEnvFor } from "../../harness/matrix.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

const PROFILE = { host: "test-host", version: "0.1.0" };

/** The room's place in the server's room directory, as any client reads it. */
async function visibility(hs: TestHomeserver, roomId: string): Promise<string> {
  const response = await fetch(
    `${hs.baseUrl}/_matrix/client/v3/directory/list/room/${encodeURIComponent(roomId)}`,
  );
  assert.equal(response.status, 200);
  return (await response.json()).visibility;
}

Deno.test("the Space, the lobby and an agent room forbid guests; the lobby is in the Space", async (t) => {
  const hs = await testHomeserver();
  const [agent, human] = await Promise.all([freshUser(hs, "agent"), Human.register(hs)]);
  const spaces = spaceEnvFor(hs, agent, uniquePrefix());
  const { spaceId, lobbyId } = await openDirectory(spaces, "create");
  assert.ok(spaceId);
  const { roomId } = await registerAgent(spaces, "guarded", PROFILE, spaceId);
  const client = clientFor(hs, agent);

  await t.step("guest access is forbidden in the state of all three rooms", async () => {
    for (const [kind, id] of [["Space", spaceId], ["lobby", lobbyId], ["agent room", roomId]]) {
      const state = await client.roomState(id);
      const guests = state.filter((e) => e.type === "m.room.guest_access");
      assert.deepEqual(guests.map((e) => e.content), [{ guest_access: "forbidden" }], kind);
    }
  });

  await t.step("a human's hierarchy of the Space includes the lobby", async () => {
    assert.equal(await human.joinRoom(spaces.aliases.space), spaceId);
    const rooms = await human.hierarchy(spaceId);
    const lobby = rooms.find((r) => r.room_id === lobbyId);
    assert.equal(lobby?.name, "Agents lobby");
    const space = rooms.find((r) => r.room_id === spaceId)!;
    const link = space.children_state.find((e) => e.state_key === lobbyId);
    assert.deepEqual(link?.content.via, [hs.serverName]);
  });

  await t.step("who lists the agent and not the lobby", async () => {
    const reader = spaceEnvFor(hs, await freshUser(hs, "reader"), spaces.prefix);
    const agents = await listAgents(reader, await openDirectory(reader, "create"));
    assert.deepEqual(agents.map((a) => a.name), ["guarded"]);
  });

  await t.step("opening again, by anyone, writes no second link", async () => {
    const before = (await client.roomState(spaceId)).find((e) => e.state_key === lobbyId)!;
    await openDirectory(spaces, "create");
    await openDirectory(spaceEnvFor(hs, await freshUser(hs, "other"), spaces.prefix), "create");
    const after = (await client.roomState(spaceId)).find((e) => e.state_key === lobbyId)!;
    assert.equal(after.event_id, before.event_id);
  });

  await t.step(
    "entering again reads what it joined and wrote, and sends no join nor write",
    async () => {
      const methods: string[] = [];
      const counting: typeof fetch = (input, init) => {
        methods.push(init?.method ?? "GET");
        return fetch(input, init);
      };
      const again = spaceEnvFor(
        hs,
        agent,
        spaces.prefix,
        clientFor(hs, agent, { fetch: counting }),
      );
      const eventIds = async () => (await client.roomState(roomId)).map((e) => e.event_id).sort();
      const before = await eventIds();
      const { beatRoomId, ...entered } = await enter(again, "guarded", PROFILE);
      assert.deepEqual(entered, { directory: { spaceId, lobbyId }, roomId });
      assert.ok(beatRoomId?.startsWith("!"));
      assert.deepEqual(methods.filter((method) => method !== "GET"), []);
      assert.deepEqual(await eventIds(), before);
    },
  );
});

Deno.test("with publish, the Space's creator lists it in the server's room directory", async (t) => {
  const [hs, stock] = await Promise.all([testHomeserver("publishing"), testHomeserver()]);
  const [creator, member] = await Promise.all([freshUser(hs, "creator"), freshUser(hs, "member")]);
  const published = (
    server: TestHomeserver,
    user: TestUser,
    prefix: string,
    log = new CollectingLogger(),
  ): SpaceEnv => ({ ...spaceEnvFor(server, user, prefix, undefined, log), publish: true });

  await t.step("on creation, and again on a later boot after someone unlisted it", async () => {
    const log = new CollectingLogger();
    const spaces = published(hs, creator, uniquePrefix(), log);
    const { spaceId, lobbyId } = await openDirectory(spaces, "create");
    assert.equal(await visibility(hs, spaceId!), "public");
    assert.equal(await visibility(hs, lobbyId), "private", "only the Space is listed");
    await clientFor(hs, creator).setDirectoryVisibility(spaceId!, "private");
    await openDirectory(spaces, "create");
    assert.equal(await visibility(hs, spaceId!), "public");
    const memberLog = new CollectingLogger();
    await openDirectory(published(hs, member, spaces.prefix, memberLog), "create");
    assert.deepEqual([...log.warnings, ...memberLog.warnings], [], "a member does not try");
  });

  await t.step("never without the setting", async () => {
    const { spaceId } = await openDirectory(spaceEnvFor(hs, creator, uniquePrefix()), "create");
    assert.equal(await visibility(hs, spaceId!), "private");
  });

  await t.step("a server that refuses says why, and the directory still opens", async () => {
    const log = new CollectingLogger();
    const user = await freshUser(stock, "plain");
    const { spaceId } = await openDirectory(published(stock, user, uniquePrefix(), log), "create");
    assert.equal(await visibility(stock, spaceId!), "private");
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0], /could not be listed in the room directory: .* 403 /);
  });
});
