import assert from "node:assert/strict";
import { heartbeat } from "../../src/ops/agent.ts";
import { beatRoomKey } from "../../src/space/registration.ts";
import { RoomCache } from "../../src/store/room_cache.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { BOB, call, commandHarness, HS, V3 } from "../support/commands.ts";
import { opContext } from "../support/ops.ts";

Deno.test("a heartbeat for cron, called directly, beats where the cache says", async () => {
  await using h = await commandHarness((r: RecordedRequest) =>
    r.method === "GET" ? json({ errcode: "M_NOT_FOUND", error: "no topic" }, 404) : json({
      event_id: "$e",
    })
  );
  await h.login();
  h.env.CCHAT_NAME = "bob";
  await Deno.mkdir(h.dataDir, { recursive: true });
  const kv = await Deno.openKv(`${h.dataDir}/cchat.kv`);
  try {
    const cache = new RoomCache(kv, h.deps, { namespace: `${HS}|agents` });
    await cache.set("bob", "!own:hs.test");
    await cache.set(beatRoomKey("bob"), "!beat:hs.test");
  } finally {
    kv.close();
  }
  const { ctx } = opContext(h);
  const result = await h.clock.run(heartbeat(ctx, { status: "online" }));
  assert.deepEqual(result, { name: "bob", status: "online", room_ids: ["!beat:hs.test"] });
  const writes = h.requests.filter((r) => r.method === "PUT").map(call);
  assert.deepEqual(writes, [
    `PUT ${V3}/rooms/!beat:hs.test/state/dev.cchat.heartbeat/${BOB}`,
    `PUT ${V3}/rooms/!own:hs.test/state/m.room.topic/`,
  ]);
  assert.ok(
    !h.requests.some((r) => call(r).includes("/join/")),
    "no registration on a cached beat",
  );
});
