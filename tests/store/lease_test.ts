import assert from "node:assert/strict";
import { procAlive } from "../../src/deps.ts";
import { ExitCode } from "../../src/errors.ts";
import {
  type Lease,
  LEASE_RENEW_MS,
  LEASE_TTL_MS,
  type LeaseDeps,
  LeaseHeldError,
  type LeaseHolder,
} from "../../src/store/lease.ts";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import { VirtualClock } from "../support/fakes.ts";

interface World {
  clock: VirtualClock;
  /** The pids that still run; a pid joins when it takes a lease. */
  alive: Set<number>;
  kv: Deno.Kv;
  /** The lease of process `pid` of this host, on one KV file. */
  lease: (pid: number) => Lease;
}

async function withKv(work: (world: World) => Promise<void>) {
  const clock = new VirtualClock();
  const alive = new Set<number>();
  const deps: LeaseDeps = {
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    hostname: () => "box",
    processAlive: (pid) => alive.has(pid),
  };
  const kv = clock.realKv(await Deno.openKv(":memory:"));
  try {
    await work({
      clock,
      alive,
      kv,
      lease: (pid) => {
        alive.add(pid);
        return new DaemonRecords(kv, deps, "@a:hs").syncLease(deps);
      },
    });
  } finally {
    kv.close();
  }
}

/** A live holder on another host, written as its process would. */
async function remoteHolder(kv: Deno.Kv, clock: VirtualClock): Promise<LeaseHolder> {
  const remote: LeaseHolder = {
    pid: 1,
    host: "elsewhere",
    since: clock.time,
    expiresAt: clock.time + LEASE_TTL_MS,
  };
  await kv.set(["user", "@a:hs", "lease", "sync"], remote);
  return remote;
}

/** Settles `work` on virtual time while every lease of `leases` renews on schedule. */
async function whileRenewing<T>(clock: VirtualClock, leases: Lease[], work: Promise<T>) {
  const done = new AbortController();
  const renewal = (async () => {
    while (!done.signal.aborted) {
      await clock.sleep(LEASE_RENEW_MS, done.signal).catch(() => {});
      // Only the holder's renewal succeeds; the others find the lease is not theirs.
      for (const lease of leases) await lease.renew();
    }
  })();
  try {
    return await clock.run(work);
  } finally {
    done.abort();
    await renewal;
  }
}

Deno.test("lease", async (t) => {
  await t.step("one holder at a time; the second learns who holds it", async () => {
    await withKv(async ({ lease, clock }) => {
      const first = lease(1);
      const held = await first.acquire(1);
      assert.deepEqual(held, {
        pid: 1,
        host: "box",
        since: clock.time,
        expiresAt: clock.time + LEASE_TTL_MS,
      });
      const started = clock.time;
      const refused = await whileRenewing(clock, [first], lease(2).acquire(2).catch((e) => e));
      assert.ok(refused instanceof LeaseHeldError);
      assert.equal(refused.exitCode, ExitCode.busy);
      assert.equal(refused.holder.since, held.since);
      assert.match(refused.message, /pid 1 on box, since 2023-11-14T22:13:20.000Z/);
      assert.ok(refused.hint);
      // Told as soon as a renewal proves the holder alive: about one renewal period.
      assert.ok(clock.time - started <= LEASE_RENEW_MS + 1_000, `${clock.time - started} ms`);
    });
  });

  await t.step("of several starting at once exactly one wins", async () => {
    await withKv(async ({ lease, clock }) => {
      const leases = [1, 2, 3, 4].map(lease);
      const outcomes = await whileRenewing(
        clock,
        leases,
        Promise.allSettled(leases.map((l, i) => l.acquire(i + 1))),
      );
      assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
      for (const o of outcomes) {
        if (o.status === "rejected") assert.ok(o.reason instanceof LeaseHeldError);
      }
    });
  });

  await t.step("a holder that stops renewing loses it once it lapses, and learns so", async () => {
    await withKv(async ({ lease, clock }) => {
      const first = lease(1);
      await first.acquire(1);
      clock.time += LEASE_TTL_MS - 1;
      assert.equal(await first.renew(), true);
      const renewedUntil = clock.time + LEASE_TTL_MS;
      // Alive but silent (suspended, say): the starter waits out the lease, then takes it.
      const second = lease(2);
      assert.equal((await clock.run(second.acquire(2))).pid, 2);
      assert.equal(clock.time, renewedUntil);
      assert.equal(await first.renew(), false);
      // The loser's release leaves the winner's lease alone.
      await first.release();
      assert.equal((await second.holder())?.pid, 2);
    });
  });

  await t.step("a holder whose process is gone loses the lease at once", async () => {
    await withKv(async ({ lease, alive, clock }) => {
      const crashed = lease(1);
      await crashed.acquire(1);
      assert.equal((await crashed.holder())?.pid, 1);
      alive.delete(1);
      assert.equal(await crashed.holder(), undefined);
      const started = clock.time;
      assert.equal((await clock.run(lease(2).acquire(2))).pid, 2);
      assert.equal(clock.time, started);
    });
  });

  await t.step("a stop ends the wait for a silent holder's lease", async () => {
    await withKv(async ({ lease, clock }) => {
      await lease(1).acquire(1);
      const stop = new AbortController();
      clock.sleep(2_000).then(() => stop.abort(new Error("stopped")));
      await assert.rejects(clock.run(lease(2).acquire(2, stop.signal)), /stopped/);
      assert.equal(clock.time, 1_700_000_000_000 + 2_000);
    });
  });

  await t.step("a record of our own pid is a previous life of it, not a rival", async () => {
    await withKv(async ({ lease }) => {
      await lease(1).acquire(1);
      assert.equal((await lease(1).acquire(1)).pid, 1);
    });
  });

  await t.step("another host's holder counts until its lease lapses", async () => {
    await withKv(async ({ lease, kv, clock }) => {
      const remote = await remoteHolder(kv, clock);
      assert.deepEqual(await lease(2).holder(), remote);
      assert.equal((await clock.run(lease(2).acquire(2))).pid, 2);
      assert.equal(clock.time, remote.expiresAt);
    });
  });

  await t.step(
    "a holder here whose life lock is free is gone: its lease is taken at once",
    async () => {
      await withKv(async ({ lease, clock }) => {
        const crashed = lease(1);
        await crashed.acquire(1);
        // /proc is closed to cchat: its process check still says alive.
        const started = clock.time;
        const taken = await clock.run(
          lease(2).acquire(2, undefined, undefined, () => Promise.resolve(true)),
        );
        assert.equal(taken.pid, 2);
        assert.equal(clock.time, started, "no wait for the lapse");
      });
    },
  );

  await t.step("the life lock says nothing of a holder on another host", async () => {
    await withKv(async ({ lease, kv, clock }) => {
      const remote = await remoteHolder(kv, clock);
      let asked = 0;
      const gone = () => Promise.resolve(++asked > 0);
      assert.equal((await clock.run(lease(2).acquire(2, undefined, undefined, gone))).pid, 2);
      assert.equal(clock.time, remote.expiresAt);
      assert.equal(asked, 0);
    });
  });

  await t.step("a live holder whose lock is held keeps its lease", async () => {
    await withKv(async ({ lease, clock }) => {
      const holder = lease(1);
      await holder.acquire(1);
      const refused = whileRenewing(
        clock,
        [holder],
        lease(2).acquire(2, undefined, undefined, () => Promise.resolve(false)),
      );
      await assert.rejects(refused, LeaseHeldError);
    });
  });

  await t.step("release frees it for the next holder at once", async () => {
    await withKv(async ({ lease }) => {
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
