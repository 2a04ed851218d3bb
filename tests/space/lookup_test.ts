import assert from "node:assert/strict";
import { MatrixError } from "../../src/errors.ts";
import { withRoom } from "../../src/space/lookup.ts";
import { json } from "../support/fakes.ts";
import { cachedSpaceFixture } from "../support/space.ts";

Deno.test("withRoom forgets a cached room that is refused and asks the alias again", async (t) => {
  for (const status of [403, 404]) {
    await t.step(`a ${status} on the cached room`, async () => {
      using fixture = await cachedSpaceFixture(() => json({ room_id: "!fresh" }));
      const { env, clock, calls, cache } = fixture;
      await cache.set("bob", "!stale");
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
      assert.equal((await cache.get("bob"))?.roomId, "!fresh");
    });
  }
  await t.step("any other failure keeps the entry and reaches the caller", async () => {
    using fixture = await cachedSpaceFixture(() => json({ room_id: "!fresh" }));
    const { env, clock, calls, cache } = fixture;
    await cache.set("bob", "!cached");
    await assert.rejects(
      clock.run(withRoom(env, "bob", "#agents-bob:hs", () => Promise.reject(new Error("boom")))),
      /boom/,
    );
    assert.deepEqual(calls(), []);
    assert.equal((await cache.get("bob"))?.roomId, "!cached");
  });
});
