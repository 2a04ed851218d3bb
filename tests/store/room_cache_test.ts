import assert from "node:assert/strict";
import { ROOM_CACHE_TTL_MS, RoomCache } from "../../src/store/room_cache.ts";
import { fakeTime, START, withKv } from "../support/kv.ts";

const NS = "https://hs.example|agents";

Deno.test("RoomCache", async (t) => {
  await t.step("set then get round-trips the room id", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new RoomCache(kv, deps, { namespace: NS });
      await cache.set("alice", "!a:hs");
      await cache.set("bob", "!b:hs");
      assert.deepEqual(await cache.get("alice"), {
        roomId: "!a:hs",
        expiresAt: START + ROOM_CACHE_TTL_MS,
      });
      assert.deepEqual(await cache.get("bob"), {
        roomId: "!b:hs",
        expiresAt: START + ROOM_CACHE_TTL_MS,
      });
      assert.equal(await cache.get("carol"), undefined);
    });
  });

  await t.step("an entry expires at exactly its TTL on the injected clock", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new RoomCache(kv, deps, { namespace: NS });
      await cache.set("alice", "!a:hs");
      deps.time = START + ROOM_CACHE_TTL_MS - 1;
      assert.equal((await cache.get("alice"))?.roomId, "!a:hs");
      deps.time = START + ROOM_CACHE_TTL_MS;
      assert.equal(await cache.get("alice"), undefined);
      deps.time = START + 10 * ROOM_CACHE_TTL_MS;
      assert.equal(await cache.get("alice"), undefined);
    });
  });

  await t.step("a custom TTL sets the deadline, and a new set renews it", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new RoomCache(kv, deps, { namespace: NS, ttlMs: 60_000 });
      await cache.set("alice", "!old:hs");
      assert.equal((await cache.get("alice"))?.expiresAt, START + 60_000);
      deps.time = START + 59_999;
      await cache.set("alice", "!new:hs");
      deps.time = START + 60_000;
      assert.deepEqual(await cache.get("alice"), {
        roomId: "!new:hs",
        expiresAt: START + 59_999 + 60_000,
      });
    });
  });

  await t.step("malformed stored values are misses, not crashes", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new RoomCache(kv, deps, { namespace: NS });
      const later = START + 1_000;
      const malformed: unknown[] = [
        null,
        "!a:hs",
        42,
        ["!a:hs", later],
        {},
        { roomId: "!a:hs" },
        { roomId: 7, expiresAt: later },
        { roomId: "!a:hs", expiresAt: "later" },
        { roomId: "!a:hs", expiresAt: NaN },
        { roomId: "!a:hs", expiresAt: Infinity },
      ];
      for (const [i, value] of malformed.entries()) {
        await kv.set(["room-cache", NS, `bad-${i}`], value);
        assert.equal(await cache.get(`bad-${i}`), undefined, `value ${i} should be a miss`);
      }
    });
  });

  await t.step("delete removes only the named entry", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new RoomCache(kv, deps, { namespace: NS });
      await cache.set("alice", "!a:hs");
      await cache.set("bob", "!b:hs");
      await cache.delete("alice");
      await cache.delete("nobody");
      assert.equal(await cache.get("alice"), undefined);
      assert.equal((await cache.get("bob"))?.roomId, "!b:hs");
    });
  });

  await t.step("namespaces keep the same name apart", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const one = new RoomCache(kv, deps, { namespace: "https://one.example|agents" });
      const two = new RoomCache(kv, deps, { namespace: "https://two.example|agents" });
      const prefixed = new RoomCache(kv, deps, { namespace: "https://one.example|team" });
      await one.set("alice", "!one:hs");
      await two.set("alice", "!two:hs");
      assert.equal(await prefixed.get("alice"), undefined);
      await two.delete("alice");
      assert.equal((await one.get("alice"))?.roomId, "!one:hs");
      assert.equal(await two.get("alice"), undefined);
    });
  });
});
