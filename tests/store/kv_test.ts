import assert from "node:assert/strict";
import {
  commitWithRetry,
  LOCK_RETRY_ATTEMPTS,
  openKvWithRetry,
  withLockRetry,
} from "../../src/store/kv.ts";
import { CchatError, ConfigError } from "../../src/errors.ts";
import { realSleep } from "../../src/deps.ts";
import { fakeTime, withKv } from "../support/kv.ts";

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

Deno.test("a damaged data file is named, with the way out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-damaged-" });
  try {
    const path = `${dir}/cchat.kv`;
    await Deno.writeFile(path, new TextEncoder().encode("not a database at all ".repeat(300)));
    await assert.rejects(
      openKvWithRetry((p) => Deno.openKv(p), path, { sleep: realSleep, random: () => 0.5 }),
      (err: CchatError) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.message, `The data file "${path}" is damaged: file is not a database.`);
        assert.match(err.hint ?? "", new RegExp(`mv ${path} ${path}\\.damaged`));
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
