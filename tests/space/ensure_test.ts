import assert from "node:assert/strict";
import type { SpaceEnv } from "../../src/space/env.ts";
import { ensureRoom } from "../../src/space/ensure.ts";
import { lobbyRoom, spaceRoom } from "../../src/space/rooms.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { err, isCreate, isJoin, ME, spaceFixture } from "../support/space.ts";

const ensure = (env: SpaceEnv, alias: string, make: typeof spaceRoom) =>
  ensureRoom(env, alias, make({ owner: env.userId, federate: false })).then((r) => r.roomId);
const ensureSpace = (env: SpaceEnv) => ensure(env, env.aliases.space, spaceRoom);
const ensureLobby = (env: SpaceEnv) => ensure(env, env.aliases.lobby, lobbyRoom);

Deno.test("ensureRoom", async (t) => {
  await t.step("joins an existing room without creating one", async () => {
    const { env, clock, calls } = spaceFixture(() => json({ room_id: "!space" }));
    assert.equal(await clock.run(ensureSpace(env)), "!space");
    assert.deepEqual(calls(), ["POST /_matrix/client/v3/join/#agents:hs"]);
  });

  await t.step("creates the Space with its alias, type and power levels when unknown", async () => {
    const { env, clock, requests } = spaceFixture((r) =>
      isJoin(r) ? err(404, "M_NOT_FOUND") : json({ room_id: "!new" })
    );
    assert.equal(await clock.run(ensureSpace(env)), "!new");
    const body = requests[1].body as Record<string, Record<string, unknown>>;
    assert.equal(body.room_alias_name as unknown, "agents");
    assert.deepEqual(body.creation_content, { type: "m.space", "m.federate": false });
    const power = body.power_level_content_override as Record<string, unknown>;
    assert.equal(power.events_default, 100);
    assert.equal((power.events as Record<string, number>)["m.space.child"], 0);
    assert.equal((power.events as Record<string, number>)["m.room.power_levels"], 100);
    assert.deepEqual(power.users, { [ME]: 100 });
  });

  for (const [status, errcode] of [[400, "M_ROOM_IN_USE"], [409, "M_UNKNOWN"]] as const) {
    await t.step(
      `after losing the race (${status} ${errcode}) joins the winner, retrying early 403/404`,
      async () => {
        let joins = 0;
        const { env, clock, requests } = spaceFixture((r) => {
          if (isCreate(r)) return err(status, errcode);
          joins++;
          if (joins === 1) return err(404, "M_NOT_FOUND");
          if (joins === 2) return err(404, "M_NOT_FOUND");
          if (joins === 3) return err(403, "M_FORBIDDEN");
          return json({ room_id: "!winner" });
        });
        assert.equal(await clock.run(ensureLobby(env)), "!winner");
        assert.equal(requests.filter(isCreate).length, 1);
        assert.deepEqual(clock.sleeps, [200, 400]);
      },
    );
  }

  await t.step("propagates every other error", async () => {
    const create = spaceFixture((r) =>
      isJoin(r) ? err(404, "M_NOT_FOUND") : err(400, "M_INVALID_PARAM")
    );
    await create.clock.run(
      assert.rejects(ensureSpace(create.env), { errcode: "M_INVALID_PARAM" }),
    );
    const join = spaceFixture(() => err(403, "M_FORBIDDEN"));
    await join.clock.run(assert.rejects(ensureSpace(join.env), { status: 403 }));
  });

  await t.step("gives up joining the winner after a few tries", async () => {
    let joins = 0;
    const { env, clock, requests } = spaceFixture((r) => {
      if (isCreate(r)) return err(400, "M_ROOM_IN_USE");
      return ++joins === 1 ? err(404, "M_NOT_FOUND") : err(403, "M_FORBIDDEN");
    });
    await clock.run(assert.rejects(ensureSpace(env), { status: 403 }));
    assert.equal(requests.filter(isJoin).length, 1 + 5);
  });

  await t.step("a room the user is already in is looked up, not joined again", async (t) => {
    const resolving = (roomId: string) => (r: RecordedRequest) =>
      r.url.pathname.includes("/directory/room/")
        ? roomId === "" ? err(404, "M_NOT_FOUND") : json({ room_id: roomId })
        : isCreate(r)
        ? json({ room_id: "!new" })
        : json({ room_id: roomId });

    await t.step("in it: one lookup, no join", async () => {
      const { env, clock, calls } = spaceFixture(resolving("!space"));
      assert.equal(await clock.run(ensureSpace({ ...env, joined: new Set(["!space"]) })), "!space");
      assert.deepEqual(calls(), ["GET /_matrix/client/v3/directory/room/#agents:hs"]);
    });

    await t.step("not in it: the lookup, then the join", async () => {
      const { env, clock, calls } = spaceFixture(resolving("!space"));
      assert.equal(await clock.run(ensureSpace({ ...env, joined: new Set(["!lobby"]) })), "!space");
      assert.deepEqual(calls(), [
        "GET /_matrix/client/v3/directory/room/#agents:hs",
        "POST /_matrix/client/v3/join/#agents:hs",
      ]);
    });

    await t.step("no such room: created, with no join tried", async () => {
      const { env, clock, calls } = spaceFixture(resolving(""));
      assert.equal(await clock.run(ensureSpace({ ...env, joined: new Set(["!lobby"]) })), "!new");
      assert.deepEqual(calls(), [
        "GET /_matrix/client/v3/directory/room/#agents:hs",
        "POST /_matrix/client/v3/createRoom",
      ]);
    });
  });
});
