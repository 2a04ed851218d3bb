/** The Space's hardening requirements, proven on a real Synapse. */
import assert from "node:assert/strict";
import { MatrixError } from "../../src/errors.ts";
import { heartbeatContent } from "../../src/space/agents.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "../../src/space/names.ts";
import { openDirectory } from "../../src/space/directory.ts";
import type { SpaceEnv } from "../../src/space/env.ts";
import { ensureRoom } from "../../src/space/ensure.ts";
import { registerAgent } from "../../src/space/registration.ts";
import { spaceRoom } from "../../src/space/rooms.ts";
import { listAgents } from "../../src/space/roster.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor, CollectingLogger, recordingFetch, spaceEnvFor } from "../../harness/matrix.ts";

const PROFILE = { host: "test-host", version: "0.1.0" };

/** Joins the Space of `env`, creating it when nobody has yet. */
const ensureSpace = async (env: SpaceEnv) =>
  (await ensureRoom(env, env.aliases.space, spaceRoom({ owner: env.userId, federate: false })))
    .roomId;

Deno.test("aliases with odd characters resolve through an encoded path", async (t) => {
  const hs = await testHomeserver();
  const user = await freshUser(hs);
  const { fetch, exchanges } = recordingFetch();
  const client = clientFor(hs, user, { fetch });
  for (
    const localpart of [
      `odd#hash-${uniquePrefix()}`,
      `q?a&b=c%d+e-${uniquePrefix()}`,
      `s/l'a(sh)*!~-${uniquePrefix()}`,
      `é-ü-${uniquePrefix()}`,
    ]
  ) {
    await t.step(`"${localpart}"`, async () => {
      const roomId = await client.createRoom({ room_alias_name: localpart });
      const alias = `#${localpart}:${hs.serverName}`;
      assert.equal((await client.resolveAlias(alias)).roomId, roomId);
      assert.equal(await client.join(alias), roomId);
      const last = exchanges.at(-1)!;
      assert.equal(last.path, `/_matrix/client/v3/join/${alias}`);
      assert.equal(last.status, 200);
    });
  }
  await t.step("agent aliases from the registration", async () => {
    const spaces = spaceEnvFor(hs, user, uniquePrefix(), client);
    const spaceId = await ensureSpace(spaces);
    const { roomId } = await registerAgent(spaces, "a.b_c=d-e", PROFILE, spaceId);
    assert.equal((await client.resolveAlias(spaces.aliases.agent("a.b_c=d-e"))).roomId, roomId);
  });
});

Deno.test("creation races end with exactly one room", async (t) => {
  const hs = await testHomeserver();
  const users = await Promise.all(Array.from({ length: 20 }, () => freshUser(hs, "race")));
  const prefix = uniquePrefix();
  let spaceId = "";

  await t.step("20 users ensureSpace at once: one Space, every one gets its id", async () => {
    const ids = await Promise.all(users.map((u) => ensureSpace(spaceEnvFor(hs, u, prefix))));
    assert.equal(new Set(ids).size, 1);
    spaceId = ids[0];
    const client = clientFor(hs, users[0]);
    assert.equal((await client.resolveAlias(`#${prefix}:${hs.serverName}`)).roomId, spaceId);
    const create = (await client.roomState(spaceId)).find((e) => e.type === "m.room.create")!;
    assert.equal(create.content.type, "m.space");
    assert.equal(create.content["m.federate"], false);
  });

  await t.step("20 concurrent registerAgent of one name by its owner: one room", async () => {
    const owner = users[0];
    const managers = Array.from({ length: 20 }, () => spaceEnvFor(hs, owner, prefix));
    const ids = await Promise.all(
      managers.map(async (m) => (await registerAgent(m, "racer", PROFILE, spaceId)).roomId),
    );
    assert.equal(new Set(ids).size, 1);
    const links = (await clientFor(hs, owner).roomState(spaceId)).filter((e) =>
      e.type === "m.space.child" && e.state_key === ids[0]
    );
    assert.equal(links.length, 1);
  });

  await t.step(
    "20 users racing for one agent name: one holds the alias, each gets a room of its own",
    async () => {
      const registrations = await Promise.all(
        users.map((u) => registerAgent(spaceEnvFor(hs, u, prefix), "contested", PROFILE, spaceId)),
      );
      const aliasRoom =
        (await clientFor(hs, users[0]).resolveAlias(`#${prefix}-contested:${hs.serverName}`))
          .roomId;
      const holders = registrations.filter((r) => r.roomId === aliasRoom);
      assert.equal(holders.length, 1);
      assert.equal(new Set(registrations.map((r) => r.roomId)).size, users.length);
      for (const [i, registration] of registrations.entries()) {
        const create = await clientFor(hs, users[i]).getStateEvent(
          registration.roomId,
          "m.room.create",
        );
        assert.equal(create.sender, users[i].userId, "every room is its registrant's own");
        if (registration.roomId === aliasRoom) continue;
        assert.match(registration.refused ?? "", /is not this agent's own: it was made by/);
      }
    },
  );
});

Deno.test("an unjoinable Space leaves the agent working in lobby-only mode", async () => {
  const hs = await testHomeserver();
  const [squatter, agent, other] = await Promise.all([
    freshUser(hs),
    freshUser(hs, "agent"),
    freshUser(hs),
  ]);
  const prefix = uniquePrefix();
  // Someone else holds the Space alias on a private room.
  await clientFor(hs, squatter).createRoom({ room_alias_name: prefix, preset: "private_chat" });
  const log = new CollectingLogger();
  const spaces = spaceEnvFor(hs, agent, prefix, undefined, log);
  const directory = await openDirectory(spaces, "create");
  assert.equal(directory.spaceId, null);
  assert.equal(log.warnings.length, 1);
  assert.match(log.warnings[0], /is unavailable \(403 M_FORBIDDEN\); working in lobby-only mode/);
  assert.ok(!log.warnings[0].includes("\n    at "), "no stack trace");

  const client = clientFor(hs, agent);
  await client.sendText(directory.lobbyId, { body: "still here" });
  await client.putState(
    directory.lobbyId,
    EVENT_HEARTBEAT,
    agent.userId,
    heartbeatContent({
      name: "solo",
      status: "online",
      seq: 1,
      intervalMs: 60_000,
      ...PROFILE,
    }),
  );
  const seenByOther = spaceEnvFor(hs, other, prefix);
  const otherDirectory = await openDirectory(seenByOther, "create");
  assert.equal(otherDirectory.lobbyId, directory.lobbyId);
  const agents = await listAgents(seenByOther, otherDirectory);
  assert.deepEqual(agents.map((a) => [a.name, a.status, a.userId, a.roomId]), [[
    "solo",
    "online",
    agent.userId,
    null,
  ]]);
});

Deno.test("listAgents survives broken rooms and lists the healthy agents", async () => {
  const hs = await testHomeserver();
  const [healthy, silent, broken, locked, reader] = await Promise.all(
    ["healthy", "silent", "broken", "locked", "reader"].map((p) => freshUser(hs, p)),
  );
  const prefix = uniquePrefix();
  const beat = (name: string) =>
    heartbeatContent({ name, status: "online", seq: 1, intervalMs: 60_000, ...PROFILE });
  const registered = async (user: typeof silent, name: string) => {
    const spaces = spaceEnvFor(hs, user, prefix);
    const { spaceId } = await openDirectory(spaces, "create");
    return { spaceId: spaceId!, ...await registerAgent(spaces, name, PROFILE, spaceId!) };
  };

  const { spaceId, roomId: healthyRoom, beatRoomId: healthyBeats } = await registered(
    healthy,
    "healthy",
  );
  await clientFor(hs, healthy).putState(
    healthyBeats,
    EVENT_HEARTBEAT,
    healthy.userId,
    beat("healthy"),
  );
  // Registered but never beat (404), and a malformed beat.
  const { beatRoomId: silentBeats } = await registered(silent, "silent");
  const { beatRoomId: brokenBeats } = await registered(broken, "broken");
  await clientFor(hs, broken).putState(brokenBeats, EVENT_HEARTBEAT, broken.userId, { name: 7 });

  // An entry of an agent from before beat rooms: its beat is in a room only its members read.
  const lockedClient = clientFor(hs, locked);
  await openDirectory(spaceEnvFor(hs, locked, prefix), "create");
  const lockedRoom = await lockedClient.createRoom({ preset: "private_chat" });
  await lockedClient.putState(lockedRoom, EVENT_HEARTBEAT, locked.userId, beat("locked"));
  await lockedClient.putState(spaceId, EVENT_AGENT, locked.userId, {
    name: "locked",
    room_id: lockedRoom,
  });

  const log = new CollectingLogger();
  const readerClient = clientFor(hs, reader);
  const readerSpaces = spaceEnvFor(hs, reader, prefix, readerClient, log);
  const readerDirectory = await openDirectory(readerSpaces, "join");
  const agents = await listAgents(readerSpaces, readerDirectory!);
  const notes = log.notes.join("\n");

  assert.deepEqual(agents.map((a) => a.name).sort(), ["broken", "healthy", "locked", "silent"]);
  const byName = Object.fromEntries(agents.map((a) => [a.name, a]));
  assert.deepEqual(
    [byName.healthy.status, byName.healthy.roomId, byName.healthy.host],
    ["online", healthyRoom, "test-host"],
  );
  assert.deepEqual([byName.silent.status, byName.silent.lastBeatAgeMs], ["offline", null]);
  assert.deepEqual([byName.broken.status, byName.broken.lastBeatAgeMs], ["offline", null]);
  assert.deepEqual([byName.locked.status, byName.locked.roomId], ["offline", lockedRoom]);
  assert.match(notes, new RegExp(`"${silentBeats}" \\(404 M_NOT_FOUND\\)`));
  assert.match(notes, new RegExp(`"${lockedRoom}" \\(403 M_FORBIDDEN\\)`));
  assert.match(notes, /heartbeat of "@broken[^"]*" is malformed/);
});

Deno.test("permissions keep outsiders out", async (t) => {
  const hs = await testHomeserver();
  const [agent, outsider] = await Promise.all([freshUser(hs, "agent"), freshUser(hs, "outsider")]);
  const prefix = uniquePrefix();
  const spaces = spaceEnvFor(hs, agent, prefix);
  const { spaceId } = await openDirectory(spaces, "create");
  const { roomId, beatRoomId } = await registerAgent(spaces, "owner", PROFILE, spaceId!);
  const outsiderClient = clientFor(hs, outsider);
  const decoy = await outsiderClient.createRoom({ preset: "public_chat" });

  await t.step("a non-member cannot add a child to the Space", async () => {
    await assert.rejects(
      outsiderClient.putState(spaceId!, "m.space.child", decoy, { via: [hs.serverName] }),
      (err: unknown) => err instanceof MatrixError && err.status === 403,
    );
  });
  await t.step(
    "a non-member reads neither the agent room nor its history, nor joins it",
    async () => {
      const refused = (err: unknown) => err instanceof MatrixError && err.status === 403;
      await assert.rejects(outsiderClient.roomState(roomId), refused);
      await assert.rejects(outsiderClient.messages(roomId, { limit: 5 }), refused);
      await assert.rejects(outsiderClient.join(roomId, [hs.serverName]), refused);
    },
  );
  await t.step("a non-member reads the beat room, as who does, and cannot post there", async () => {
    const beat = await outsiderClient.getStateEvent(beatRoomId, "m.room.create");
    assert.equal(beat.sender, agent.userId);
    await assert.rejects(
      outsiderClient.sendText(beatRoomId, { body: "hello" }),
      (err: unknown) => err instanceof MatrixError && err.status === 403,
    );
  });
  await t.step("a Space member cannot rewrite the agent's profile or heartbeat", async () => {
    await outsiderClient.join(spaceId!);
    await outsiderClient.join(roomId, [hs.serverName]);
    await assert.rejects(
      outsiderClient.putState(roomId, "dev.cchat.agent", "", {
        name: "owner",
        user_id: outsider.userId,
      }),
      (err: unknown) => err instanceof MatrixError && err.status === 403,
    );
  });
  await t.step(
    "a Space member may join the agent room with no invite, and may add a child",
    async () => {
      const state = await outsiderClient.roomState(roomId);
      assert.ok(state.some((e) => e.type === "m.room.member" && e.state_key === outsider.userId));
      await outsiderClient.putState(spaceId!, "m.space.child", decoy, { via: [hs.serverName] });
    },
  );
});
