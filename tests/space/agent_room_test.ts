import assert from "node:assert/strict";
import { CchatError, MatrixError } from "../../src/errors.ts";
import { NoSuchAgentError, withAgentRoom } from "../../src/space/agent_room.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { cachedSpaceFixture, cchatRoomState, err, isJoin } from "../support/space.ts";

const BOB = "@bob:hs";
const pathOf = (r: RecordedRequest) => decodeURIComponent(r.url.pathname);
const entry = (user: string, name: string, roomId: string) => ({
  type: "dev.cchat.agent",
  state_key: user,
  sender: user,
  content: { name, room_id: roomId },
});

interface World {
  /** The Space's entries. */
  entries?: ReturnType<typeof entry>[];
  /** Who made each room; a room made by its entry's account unless said here. */
  makers?: Record<string, string>;
  /** Rooms that refuse this account's join. */
  closed?: string[];
  /** Where the alias "#agents-bob:hs" leads, if anywhere. */
  aliasRoom?: string;
  /** The Space refuses reads until this account joins it. */
  outsider?: boolean;
  noSpace?: boolean;
}

function homeserver(world: World) {
  let inSpace = !world.outsider;
  return (r: RecordedRequest) => {
    const p = pathOf(r);
    if (p.endsWith("/directory/room/#agents:hs")) {
      return world.noSpace ? err(404, "M_NOT_FOUND") : json({ room_id: "!space" });
    }
    if (p.endsWith("/directory/room/#agents-lobby:hs")) return json({ room_id: "!lobby" });
    if (p.endsWith("/directory/room/#agents-bob:hs")) {
      return world.aliasRoom ? json({ room_id: world.aliasRoom }) : err(404, "M_NOT_FOUND");
    }
    if (p.includes("/rooms/!space/") && !inSpace) return err(403, "M_FORBIDDEN");
    if (isJoin(r)) {
      const target = p.slice(p.lastIndexOf("/") + 1);
      if (target === "#agents:hs") inSpace = true;
      if (world.closed?.includes(target)) return err(403, "M_FORBIDDEN");
      return json({ room_id: target.startsWith("#agents:") ? "!space" : target });
    }
    if (p.endsWith("/rooms/!space/state")) return json(world.entries ?? []);
    const keyed = /\/rooms\/!space\/state\/dev\.cchat\.agent\/(.+)$/.exec(p)?.[1];
    if (keyed) {
      const found = world.entries?.find((e) => e.state_key === keyed);
      return found ? json(found) : err(404, "M_NOT_FOUND");
    }
    const stateOf = /\/rooms\/(![^/]+)\/state$/.exec(p)?.[1];
    if (stateOf && r.method === "GET") {
      const owner = world.makers?.[stateOf] ??
        world.entries?.find((e) => e.content.room_id === stateOf)?.sender;
      return json(cchatRoomState(owner));
    }
    return json({ event_id: "$e" });
  };
}

const send = (roomId: string) => Promise.resolve(roomId);
const refusal = (status: number) =>
  new MatrixError({ status, errcode: "M_X", error: "no", request: "PUT /send" });

Deno.test("withAgentRoom", async (t) => {
  await t.step(
    "the account named after the agent: one small read, a join, a look, then the cache",
    async () => {
      using fixture = await cachedSpaceFixture(homeserver({
        entries: [entry(BOB, "bob", "!bob"), entry("@mallory:hs", "bob", "!squat")],
      }));
      const { env, clock, calls } = fixture;
      assert.equal(await clock.run(withAgentRoom(env, "bob", send)), "!bob");
      assert.deepEqual(calls().filter((c) => !c.includes("/directory/")), [
        `GET /_matrix/client/v3/rooms/!space/state/dev.cchat.agent/${BOB}`,
        "POST /_matrix/client/v3/join/!bob",
        "GET /_matrix/client/v3/rooms/!bob/state",
      ]);
      const before = calls().length;
      assert.equal(await clock.run(withAgentRoom(env, "bob", send)), "!bob");
      assert.equal(calls().length, before, "the proven room is cached");
    },
  );

  await t.step("a room its agent did not make is refused, left, and said", async () => {
    using fixture = await cachedSpaceFixture(homeserver({
      entries: [entry(BOB, "bob", "!bob")],
      makers: { "!bob": "@mallory:hs" },
    }));
    const { env, clock, calls, log } = fixture;
    await clock.run(
      assert.rejects(withAgentRoom(env, "bob", send), (failure: unknown) => {
        assert.ok(failure instanceof NoSuchAgentError);
        assert.deepEqual(failure.names, [], "the name was typed right: nothing else to suggest");
        return true;
      }),
    );
    assert.ok(calls().includes("POST /_matrix/client/v3/rooms/!bob/leave"));
    assert.deepEqual(log.warnings, [
      'The room "!bob" of "bob" is not its agent\'s: it was made by "@mallory:hs".',
    ]);
  });

  await t.step("a room that does not let the sender in is no agent's room", async () => {
    using fixture = await cachedSpaceFixture(homeserver({
      entries: [entry(BOB, "bob", "!bob")],
      closed: ["!bob"],
    }));
    const { env, clock, log } = fixture;
    await clock.run(assert.rejects(withAgentRoom(env, "bob", send), NoSuchAgentError));
    assert.match(log.warnings[0], /it does not let this account in \(403 M_FORBIDDEN\)/);
  });

  await t.step("another account's sole claim holds the name", async () => {
    using fixture = await cachedSpaceFixture(homeserver({
      entries: [entry("@builder:hs", "bob", "!b1"), entry("@a:hs", "a", "!a")],
    }));
    assert.equal(await fixture.clock.run(withAgentRoom(fixture.env, "bob", send)), "!b1");
  });

  await t.step("of entries naming one room, its maker's holds, and the room is kept", async () => {
    using fixture = await cachedSpaceFixture(homeserver({
      entries: [entry("@builder:hs", "bob", "!b1"), entry("@eve:hs", "bob", "!b1")],
      aliasRoom: "!b1",
      makers: { "!b1": "@builder:hs" },
    }));
    const { env, clock, calls, log } = fixture;
    assert.equal(await clock.run(withAgentRoom(env, "bob", send)), "!b1");
    assert.ok(!calls().some((c) => c.endsWith("/leave")));
    assert.deepEqual(log.warnings, []);
  });

  await t.step("a contest the Space cannot settle is refused, naming the accounts", async () => {
    using fixture = await cachedSpaceFixture(homeserver({
      entries: [entry("@builder:hs", "bob", "!b1"), entry("@eve:hs", "bob", "!b2")],
    }));
    await fixture.clock.run(
      assert.rejects(withAgentRoom(fixture.env, "bob", send), (failure: unknown) => {
        assert.ok(failure instanceof CchatError && !(failure instanceof NoSuchAgentError));
        assert.equal(failure.message, 'The name "bob" is claimed by "@builder:hs" and "@eve:hs".');
        assert.match(failure.hint ?? "", /"@bob:hs" holds the name outright/);
        return true;
      }),
    );
  });

  await t.step("a sender outside the Space joins it first", async () => {
    using fixture = await cachedSpaceFixture(homeserver({
      entries: [entry(BOB, "bob", "!bob")],
      outsider: true,
    }));
    const { env, clock, calls } = fixture;
    assert.equal(await clock.run(withAgentRoom(env, "bob", send)), "!bob");
    assert.ok(calls().includes("POST /_matrix/client/v3/join/#agents:hs"));
  });

  await t.step("without a Space no agent has a room", async () => {
    using fixture = await cachedSpaceFixture(homeserver({ noSpace: true }));
    await fixture.clock.run(
      assert.rejects(withAgentRoom(fixture.env, "bob", send), (failure: unknown) => {
        assert.ok(failure instanceof NoSuchAgentError);
        assert.equal(failure.message, 'No agent is called "bob".');
        return true;
      }),
    );
  });

  await t.step("a cached room that is refused is proven again", async () => {
    using fixture = await cachedSpaceFixture(homeserver({ entries: [entry(BOB, "bob", "!bob")] }));
    const { env, clock, cache } = fixture;
    await cache.set("bob", "!stale");
    const tried: string[] = [];
    const used = await clock.run(withAgentRoom(env, "bob", (roomId) => {
      tried.push(roomId);
      return roomId === "!stale" ? Promise.reject(refusal(403)) : send(roomId);
    }));
    assert.equal(used, "!bob");
    assert.deepEqual(tried, ["!stale", "!bob"]);
    assert.equal((await cache.get("bob"))?.roomId, "!bob");
  });

  await t.step("a failure that is no refusal reaches the caller, the cache kept", async () => {
    using fixture = await cachedSpaceFixture(homeserver({ entries: [entry(BOB, "bob", "!bob")] }));
    const { env, clock, cache } = fixture;
    await cache.set("bob", "!cached");
    await clock.run(
      assert.rejects(withAgentRoom(env, "bob", () => Promise.reject(refusal(500))), {
        status: 500,
      }),
    );
    assert.equal((await cache.get("bob"))?.roomId, "!cached");
  });
});
