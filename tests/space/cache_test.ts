import assert from "node:assert/strict";
import { join } from "node:path";
import { AGENT_CACHE_TTL_MS, AgentCache } from "../../src/space/cache.ts";
import { commitWithRetry, LOCK_RETRY_ATTEMPTS, withLockRetry } from "../../src/space/kv.ts";
import { CchatError } from "../../src/errors.ts";

const START = 1_700_000_000_000;

/** A fake clock and a sleep that records its waits and returns at once. */
function fakeTime() {
  const sleeps: number[] = [];
  const deps = {
    time: START,
    now: () => deps.time,
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
  };
  return { deps, sleeps };
}

/** Runs `body` against a KV file in a fresh temp dir, closed and removed afterwards. */
async function withKv(body: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cchat-cache-" });
  const kv = await Deno.openKv(join(dir, "cache.sqlite3"));
  try {
    await body(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const NS = "https://hs.example|agents";

Deno.test("AgentCache", async (t) => {
  await t.step("set then get round-trips room and user", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new AgentCache(kv, deps, { namespace: NS });
      await cache.set("alice", { roomId: "!a:hs", userId: "@alice:hs" });
      await cache.set("bob", { roomId: "!b:hs" });
      assert.deepEqual(await cache.get("alice"), {
        roomId: "!a:hs",
        userId: "@alice:hs",
        expiresAt: START + AGENT_CACHE_TTL_MS,
      });
      assert.deepEqual(await cache.get("bob"), {
        roomId: "!b:hs",
        expiresAt: START + AGENT_CACHE_TTL_MS,
      });
      assert.equal(await cache.get("carol"), undefined);
    });
  });

  await t.step("an entry expires at exactly its TTL on the injected clock", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new AgentCache(kv, deps, { namespace: NS });
      await cache.set("alice", { roomId: "!a:hs" });
      deps.time = START + AGENT_CACHE_TTL_MS - 1;
      assert.equal((await cache.get("alice"))?.roomId, "!a:hs");
      deps.time = START + AGENT_CACHE_TTL_MS;
      assert.equal(await cache.get("alice"), undefined);
      deps.time = START + 10 * AGENT_CACHE_TTL_MS;
      assert.equal(await cache.get("alice"), undefined);
    });
  });

  await t.step("a custom TTL sets the deadline, and a new set renews it", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new AgentCache(kv, deps, { namespace: NS, ttlMs: 60_000 });
      await cache.set("alice", { roomId: "!old:hs" });
      assert.equal((await cache.get("alice"))?.expiresAt, START + 60_000);
      deps.time = START + 59_999;
      await cache.set("alice", { roomId: "!new:hs" });
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
      const cache = new AgentCache(kv, deps, { namespace: NS });
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
        { roomId: "!a:hs", expiresAt: later, userId: 5 },
      ];
      for (const [i, value] of malformed.entries()) {
        await kv.set(["agent-cache", NS, `bad-${i}`], value);
        assert.equal(await cache.get(`bad-${i}`), undefined, `value ${i} should be a miss`);
      }
    });
  });

  await t.step("delete removes only the named entry", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const cache = new AgentCache(kv, deps, { namespace: NS });
      await cache.set("alice", { roomId: "!a:hs" });
      await cache.set("bob", { roomId: "!b:hs" });
      await cache.delete("alice");
      await cache.delete("nobody");
      assert.equal(await cache.get("alice"), undefined);
      assert.equal((await cache.get("bob"))?.roomId, "!b:hs");
    });
  });

  await t.step("namespaces keep the same name apart", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const one = new AgentCache(kv, deps, { namespace: "https://one.example|agents" });
      const two = new AgentCache(kv, deps, { namespace: "https://two.example|agents" });
      const prefixed = new AgentCache(kv, deps, { namespace: "https://one.example|team" });
      await one.set("alice", { roomId: "!one:hs" });
      await two.set("alice", { roomId: "!two:hs" });
      assert.equal(await prefixed.get("alice"), undefined);
      await two.delete("alice");
      assert.equal((await one.get("alice"))?.roomId, "!one:hs");
      assert.equal(await two.get("alice"), undefined);
    });
  });
});

Deno.test("commitWithRetry", async (t) => {
  const key = ["retry-test"];

  await t.step("retries 'database is locked' with growing short waits", async () => {
    await withKv(async (kv) => {
      const { deps, sleeps } = fakeTime();
      let calls = 0;
      const result = await commitWithRetry(() => {
        calls++;
        const op = kv.atomic().set(key, "written");
        if (calls <= 2) op.commit = () => Promise.reject(new Error("database is locked"));
        return op;
      }, deps);
      assert.equal(result.ok, true);
      assert.equal(calls, 3);
      assert.equal(sleeps.length, 2);
      assert.ok(sleeps[0] >= 5 && sleeps[0] <= 10, `first wait ${sleeps[0]} ms`);
      assert.ok(sleeps[1] > sleeps[0] && sleeps[1] <= 20, `second wait ${sleeps[1]} ms`);
      assert.equal((await kv.get(key)).value, "written");
    });
  });

  await t.step("rethrows any other error at once", async () => {
    await withKv(async (kv) => {
      const { deps, sleeps } = fakeTime();
      const boom = new TypeError("Value too large");
      let calls = 0;
      await assert.rejects(
        commitWithRetry(() => {
          calls++;
          const op = kv.atomic().set(key, "never");
          op.commit = () => Promise.reject(boom);
          return op;
        }, deps),
        (err: Error) => {
          assert.equal(err, boom);
          return true;
        },
      );
      assert.equal(calls, 1);
      assert.deepEqual(sleeps, []);
      assert.equal((await kv.get(key)).value, null);
    });
  });

  await t.step("throws a CchatError with a hint once every attempt was locked", async () => {
    await withKv(async (kv) => {
      const { deps, sleeps } = fakeTime();
      const locked = new Error("database is locked");
      let calls = 0;
      await assert.rejects(
        commitWithRetry(() => {
          calls++;
          const op = kv.atomic().set(key, "never");
          op.commit = () => Promise.reject(locked);
          return op;
        }, deps),
        (err: Error) => {
          assert.ok(err instanceof CchatError);
          assert.match(err.message, /stayed locked after "8" attempts/);
          assert.match(err.hint ?? "", /another cchat process/i);
          assert.equal(err.cause, locked);
          return true;
        },
      );
      assert.equal(calls, LOCK_RETRY_ATTEMPTS);
      assert.equal(sleeps.length, LOCK_RETRY_ATTEMPTS - 1);
      assert.ok(sleeps.every((ms) => ms >= 5 && ms <= 40), `waits ${sleeps.join(", ")} ms`);
    });
  });
});

Deno.test("withLockRetry", async (t) => {
  await t.step("treats 'busy' as locked and honours a custom attempt count", async () => {
    const { deps, sleeps } = fakeTime();
    let calls = 0;
    await assert.rejects(
      withLockRetry(
        () => {
          calls++;
          return Promise.reject(new Error("SQLITE_BUSY: database busy"));
        },
        deps,
        3,
      ),
      (err: Error) => {
        assert.ok(err instanceof CchatError);
        return true;
      },
    );
    assert.equal(calls, 3);
    assert.equal(sleeps.length, 2);
  });

  await t.step("passes a value through and rethrows non-Error throws", async () => {
    const { deps, sleeps } = fakeTime();
    assert.equal(await withLockRetry(() => Promise.resolve(7), deps), 7);
    const thrown = await withLockRetry(() => Promise.reject("database is locked"), deps).then(
      () => "resolved",
      (reason: unknown) => reason,
    );
    assert.equal(thrown, "database is locked");
    assert.deepEqual(sleeps, []);
  });
});
