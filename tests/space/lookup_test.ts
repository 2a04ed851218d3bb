import assert from "node:assert/strict";
import { MatrixError } from "../../src/errors.ts";
import { agentRoomId, withRoom } from "../../src/space/lookup.ts";
import { RoomCache } from "../../src/space/room_cache.ts";
import { json } from "../support/fakes.ts";
import { spaceFixture } from "../support/space.ts";

Deno.test("agentRoom uses the cache before the alias", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const { env, clock, calls } = spaceFixture(() => json({ room_id: "!bob", servers: ["hs"] }), {
      cache: (c) =>
        new RoomCache(c.realKv(kv), { now: c.now, sleep: c.sleep, random: () => 0.5 }, {
          namespace: "test",
        }),
    });
    assert.equal(await clock.run(agentRoomId(env, "bob")), "!bob");
    assert.equal(await clock.run(agentRoomId(env, "bob")), "!bob");
    assert.deepEqual(calls(), ["GET /_matrix/client/v3/directory/room/#agents-bob:hs"]);
  } finally {
    kv.close();
  }
});

Deno.test("withRoom forgets a cached room that is refused and asks the alias again", async (t) => {
  for (const status of [403, 404]) {
    await t.step(`a ${status} on the cached room`, async () => {
      const kv = await Deno.openKv(":memory:");
      try {
        const { env, clock, calls } = spaceFixture(() => json({ room_id: "!fresh" }), {
          cache: (c) =>
            new RoomCache(c.realKv(kv), { now: c.now, sleep: c.sleep, random: () => 0.5 }, {
              namespace: "test",
            }),
        });
        await env.cache!.set("bob", "!stale");
        const tried: string[] = [];
        const used = await clock.run(
          withRoom(env, "bob", env.aliases.agent("bob"), (roomId) => {
            tried.push(roomId);
            return roomId === "!stale"
              ? Promise.reject(
                new MatrixError({
                  status,
                  errcode: "M_FORBIDDEN",
                  error: "no",
                  request: "PUT /send",
                }),
              )
              : Promise.resolve(roomId);
          }),
        );
        assert.equal(used, "!fresh");
        assert.deepEqual(tried, ["!stale", "!fresh"]);
        assert.deepEqual(calls(), ["GET /_matrix/client/v3/directory/room/#agents-bob:hs"]);
        assert.equal((await env.cache!.get("bob"))?.roomId, "!fresh");
      } finally {
        kv.close();
      }
    });
  }
  await t.step("any other failure keeps the entry and reaches the caller", async () => {
    const kv = await Deno.openKv(":memory:");
    try {
      const { env, clock, calls } = spaceFixture(() => json({ room_id: "!fresh" }), {
        cache: (c) =>
          new RoomCache(c.realKv(kv), { now: c.now, sleep: c.sleep, random: () => 0.5 }, {
            namespace: "test",
          }),
      });
      await env.cache!.set("bob", "!cached");
      await assert.rejects(
        clock.run(withRoom(env, "bob", "#agents-bob:hs", () => Promise.reject(new Error("boom")))),
        /boom/,
      );
      assert.deepEqual(calls(), []);
      assert.equal((await env.cache!.get("bob"))?.roomId, "!cached");
    } finally {
      kv.close();
    }
  });
});
