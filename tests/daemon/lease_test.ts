import assert from "node:assert/strict";
import { procAlive } from "../../src/deps.ts";
import { ExitCode } from "../../src/errors.ts";
import {
  LEASE_TTL_MS,
  type LeaseDeps,
  LeaseHeldError,
  type LeaseHolder,
} from "../../src/daemon/lease.ts";
import { Store } from "../../src/daemon/store.ts";
import { VirtualClock } from "../support/fakes.ts";

/** Two processes of one host sharing one KV file; `alive` says which pids still run. */
async function withKv(
  work: (lease: (pid: number) => ReturnType<Store["syncLease"]>, h: {
    clock: VirtualClock;
    alive: Set<number>;
    kv: Deno.Kv;
  }) => Promise<void>,
) {
  const clock = new VirtualClock();
  const alive = new Set<number>();
  const deps: LeaseDeps = {
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    hostname: () => "box",
    processAlive: (pid) => alive.has(pid),
  };
  const kv = await Deno.openKv(":memory:");
  try {
    await work((pid) => {
      alive.add(pid);
      return new Store(kv, deps, "@a:hs").syncLease(deps);
    }, { clock, alive, kv });
  } finally {
    kv.close();
  }
}

Deno.test("lease", async (t) => {
  await t.step("one holder at a time; the second learns who holds it", async () => {
    await withKv(async (lease, { clock }) => {
      const held = await lease(1).acquire(1);
      assert.deepEqual(held, {
        pid: 1,
        host: "box",
        since: clock.time,
        expiresAt: clock.time + LEASE_TTL_MS,
      });
      const refused = await lease(2).acquire(2).catch((err) => err);
      assert.ok(refused instanceof LeaseHeldError);
      assert.equal(refused.exitCode, ExitCode.busy);
      assert.deepEqual(refused.holder, held);
      assert.match(refused.message, /pid 1 on box, since 2023-11-14T22:13:20.000Z/);
      assert.ok(refused.hint);
    });
  });

  await t.step("of two starting at once exactly one wins", async () => {
    await withKv(async (lease) => {
      const outcomes = await Promise.allSettled([1, 2, 3, 4].map((pid) => lease(pid).acquire(pid)));
      assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
      for (const o of outcomes) {
        if (o.status === "rejected") assert.ok(o.reason instanceof LeaseHeldError);
      }
    });
  });

  await t.step(
    "renewal keeps it; a lapse lets another take it, and the old holder learns it lost",
    async () => {
      await withKv(async (lease, { clock }) => {
        const first = lease(1);
        await first.acquire(1);
        clock.time += LEASE_TTL_MS - 1;
        assert.equal(await first.renew(), true);
        clock.time += LEASE_TTL_MS - 1;
        await assert.rejects(lease(2).acquire(2), LeaseHeldError);
        clock.time += 1;
        const second = lease(2);
        assert.equal((await second.acquire(2)).pid, 2);
        assert.equal(await first.renew(), false);
        // The loser's release leaves the winner's lease alone.
        await first.release();
        assert.equal((await second.holder())?.pid, 2);
      });
    },
  );

  await t.step("a holder whose process is gone loses the lease at once", async () => {
    await withKv(async (lease, { alive }) => {
      const crashed = lease(1);
      await crashed.acquire(1);
      assert.equal((await crashed.holder())?.pid, 1);
      alive.delete(1);
      assert.equal(await crashed.holder(), undefined);
      assert.equal((await lease(2).acquire(2)).pid, 2);
    });
  });

  await t.step("a record of our own pid is a previous life of it, not a rival", async () => {
    await withKv(async (lease) => {
      await lease(1).acquire(1);
      assert.equal((await lease(1).acquire(1)).pid, 1);
    });
  });

  await t.step("another host's holder is trusted until its lease lapses", async () => {
    await withKv(async (lease, { kv, clock }) => {
      const remote: LeaseHolder = {
        pid: 1,
        host: "elsewhere",
        since: clock.time,
        expiresAt: clock.time + LEASE_TTL_MS,
      };
      await kv.set(["user", "@a:hs", "lease", "sync"], remote);
      await assert.rejects(lease(2).acquire(2), LeaseHeldError);
      clock.time += LEASE_TTL_MS;
      assert.equal((await lease(2).acquire(2)).pid, 2);
    });
  });

  await t.step("release frees it for the next holder", async () => {
    await withKv(async (lease) => {
      const first = lease(1);
      await first.acquire(1);
      await first.release();
      assert.equal(await first.holder(), undefined);
      assert.equal(await first.renew(), false);
      assert.equal((await lease(2).acquire(2)).pid, 2);
    });
  });
});

Deno.test("procAlive tells this process from a gone or a zombie one", async () => {
  assert.equal(procAlive(Deno.pid), true);
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  // Not reaped yet: an exited child lingers as a zombie until its status is read.
  for (let i = 0; i < 100 && procAlive(child.pid); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(procAlive(child.pid), false);
  await child.status;
  assert.equal(procAlive(child.pid), false);
});
