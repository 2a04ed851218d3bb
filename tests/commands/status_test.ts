import assert from "node:assert/strict";
import { runCli } from "../../src/cli.ts";
import { STATUS_EXIT_CODES } from "../../src/commands/status.ts";
import { writeCredentials } from "../../src/credentials.ts";
import { LEASE_TTL_MS } from "../../src/store/lease.ts";
import { lifeLockPath, takeLifeLock } from "../../src/daemon/life_lock.ts";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import type { DaemonStatus } from "../../src/store/types.ts";
import type { Deps } from "../../src/deps.ts";
import { ExitCode } from "../../src/errors.ts";
import { staleAfterMs, type StatusResult } from "../../src/ops/status.ts";
import {
  type CapturedSink,
  fakeDeps,
  fakeFetch,
  type Handler,
  json,
  VirtualClock,
} from "../support/fakes.ts";
import { BOB, call, commandHarness, HS, V3 } from "../support/commands.ts";

const ME = "@bob:hs.test";
const DAEMON_PID = 99;

Deno.test("staleAfterMs: two long-polls plus 15 s of slack", async (t) => {
  await t.step("the default 30 s long-poll", () => {
    assert.equal(staleAfterMs(30_000), 75_000);
  });
  await t.step("other long-polls", () => {
    assert.equal(staleAfterMs(1_000), 17_000);
    assert.equal(staleAfterMs(60_000), 135_000);
    assert.equal(staleAfterMs(0), 15_000);
  });
  await t.step("always longer than one long-poll, growing with it", () => {
    for (const poll of [1_000, 10_000, 30_000, 300_000]) {
      assert.ok(staleAfterMs(poll) > 2 * poll, String(poll));
      assert.ok(staleAfterMs(poll + 1_000) > staleAfterMs(poll));
    }
  });
});

/** A homeserver that knows the Space and the token. */
const healthy: Handler = (r) =>
  r.url.pathname.endsWith("/whoami") ? json({ user_id: ME }) : json({ room_id: "!space:hs.test" });
const down: Handler = () => {
  throw new TypeError("connection refused");
};

interface Setup {
  handler?: Handler;
  /** Changes to a running daemon's record; null for no record at all. */
  record?: Partial<DaemonStatus> | null;
  /** Whether the daemon's process still runs (the record's pid, on this host). */
  processAlive?: boolean;
  /** Whether the daemon holds the sync lease. */
  lease?: boolean;
  /** Virtual time from the daemon's last write of its record to the status. */
  elapsedMs?: number;
  /** Virtual time from its last renewal of the lease to the status. */
  renewedAgoMs?: number;
  /** The daemon's life lock: held by a live process, or let go of by a dead one; none when absent. */
  life?: "held" | "let go";
}

/** `cchat status --json` on a fake homeserver, with a daemon's record and lease in the KV file. */
async function status(
  setup: Setup,
): Promise<{ code: number; report: StatusResult; lines: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "cchat-status-" });
  try {
    const clock = new VirtualClock();
    const fake = fakeFetch(setup.handler ?? healthy, clock);
    const alive = setup.processAlive ?? true;
    const overrides: Partial<Deps> = {
      fetch: fake.fetch,
      processAlive: (pid) => pid === DAEMON_PID && alive,
    };
    const { deps, stdout, env } = fakeDeps(overrides, clock);
    Object.assign(env, { XDG_CONFIG_HOME: `${dir}/config`, XDG_STATE_HOME: `${dir}/state` });
    await writeCredentials(`${dir}/config/cchat`, {
      homeserver: "http://hs.test",
      userId: ME,
      accessToken: "t",
      deviceId: "D",
    });
    await Deno.mkdir(`${dir}/state/cchat`, { recursive: true });
    const kv = await Deno.openKv(`${dir}/state/cchat/cchat.kv`);
    try {
      const records = new DaemonRecords(kv, deps, ME);
      if (setup.record !== null) {
        await records.saveStatus({
          pid: DAEMON_PID,
          host: "test-host",
          name: "builder",
          startedAt: clock.time,
          lastSyncAt: clock.time,
          state: "running",
          lastError: null,
          failure: null,
          spaceId: "!space:hs.test",
          lobbyId: "!lobby:hs.test",
          roomId: "!builder:hs.test",
          droppedSenders: 0,
          ...setup.record,
        });
      }
      const renewedAgo = setup.renewedAgoMs ?? 1_000;
      clock.time += (setup.elapsedMs ?? 1_000) - renewedAgo;
      if (setup.lease) await records.syncLease(deps).acquire(DAEMON_PID);
      clock.time += renewedAgo;
    } finally {
      kv.close();
    }
    const life = setup.life &&
      await takeLifeLock(await lifeLockPath(`${dir}/state/cchat`, ME), clock.sleep);
    if (setup.life === "let go") life?.release();
    try {
      return await report(deps, stdout, clock);
    } finally {
      if (setup.life === "held") life?.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `cchat status --json`, then plain `cchat status`, which must agree on the exit code. */
async function report(deps: Deps, stdout: CapturedSink, clock: VirtualClock) {
  const code = await clock.run(runCli(["status", "--json"], deps));
  const result = JSON.parse(stdout.text) as StatusResult;
  stdout.text = "";
  assert.equal(await clock.run(runCli(["status"], deps)), code, "the same answer as text");
  return { code, report: result, lines: stdout.lines };
}

Deno.test("status gives each situation its own answer and exit code", async (t) => {
  await t.step("a restarted daemon in its first long-poll is starting, not stale (a)", async () => {
    const { code, report, lines } = await status({
      lease: true,
      record: { state: "booting", lastSyncAt: null },
      elapsedMs: 25_000,
    });
    assert.equal(code, ExitCode.ok);
    assert.equal(report.state, "starting");
    assert.equal(lines[3], 'daemon      starting as "builder" (pid 99)');
    assert.equal(report.daemon?.alive, true);
  });

  await t.step("a long-poll in progress keeps a running daemon running", async () => {
    const { code, report } = await status({ lease: true, elapsedMs: 29_000 });
    assert.equal(code, ExitCode.ok);
    assert.equal(report.state, "running");
    assert.equal(report.lease?.pid, DAEMON_PID);
  });

  await t.step("after kill -9 the daemon is dead at once, lease or not (b)", async () => {
    for (const lease of [true, false]) {
      const { code, report, lines } = await status({ lease, processAlive: false });
      assert.equal(code, ExitCode.stale, `lease ${lease}`);
      assert.equal(
        lines[3],
        "daemon      dead: pid 99 is gone without a clean stop, last sync 1s ago",
      );
      assert.equal(report.state, "dead");
      assert.equal(report.daemon?.alive, false);
      assert.equal(report.lease, null);
    }
  });

  await t.step(
    "under cchat's own permissions, a let-go life lock is what tells a crash",
    async () => {
      // /proc is closed to cchat: the process check answers "alive" whatever happened.
      for (const lease of [true, false]) {
        const dead = await status({ lease, processAlive: true, life: "let go" });
        assert.equal(dead.report.state, "dead", `lease ${lease}`);
        assert.equal(dead.code, ExitCode.stale);
      }
      const running = await status({ lease: true, processAlive: true, life: "held" });
      assert.equal(running.report.state, "running");
      const hung = await status({ lease: true, renewedAgoMs: LEASE_TTL_MS, life: "held" });
      assert.equal(hung.report.state, "stale");
    },
  );

  await t.step("a daemon whose lease lapsed while its process lives is stale (hung)", async () => {
    const { code, report } = await status({ lease: true, renewedAgoMs: LEASE_TTL_MS });
    assert.equal(code, ExitCode.stale);
    assert.equal(report.state, "stale");
  });

  await t.step("a live daemon whose sync loop went silent is stale", async () => {
    const { code, report } = await status({
      lease: true,
      elapsedMs: 5_000,
      record: {
        lastSyncAt: new VirtualClock().time - staleAfterMs(30_000),
      },
    });
    assert.equal(code, ExitCode.stale);
    assert.equal(report.state, "stale");
  });

  await t.step(
    "the homeserver down for minutes with the daemon retrying is unreachable (d)",
    async () => {
      const { code, report, lines } = await status({
        handler: down,
        lease: true,
        record: {
          state: "retrying",
          failure: "unreachable",
          lastError: "Cannot reach the homeserver",
          lastSyncAt: new VirtualClock().time - 120_000,
        },
      });
      assert.equal(code, ExitCode.unreachable);
      assert.equal(report.state, "unreachable");
      assert.equal(report.daemon?.alive, true);
      assert.equal(
        lines[3],
        'daemon      retrying as "builder" (pid 99): the homeserver is unreachable, last sync 2m ago, last error: Cannot reach the homeserver',
      );
    },
  );

  await t.step(
    "a daemon that met the outage is unreachable even if status got through",
    async () => {
      const { code, report } = await status({
        lease: true,
        record: { state: "retrying", failure: "unreachable", lastError: "502" },
      });
      assert.equal(code, ExitCode.unreachable);
      assert.equal(report.daemon_state, "unreachable");
    },
  );

  await t.step("a daemon waiting out a rate limit: 6", async () => {
    const { code, report } = await status({
      lease: true,
      record: { state: "retrying", failure: "rate_limited", lastError: "429" },
    });
    assert.equal(code, ExitCode.rateLimited);
    assert.equal(report.state, "rate_limited");
  });

  await t.step("a revoked token is an auth failure, whatever else holds (e)", async () => {
    const revoked: Handler = (r) =>
      r.url.pathname.endsWith("/whoami")
        ? json({ errcode: "M_UNKNOWN_TOKEN", error: "Invalid access token" }, 401)
        : healthy(r);
    const { code, report, lines } = await status({
      handler: revoked,
      record: { state: "stopped", failure: "auth", lastError: "401 M_UNKNOWN_TOKEN" },
    });
    assert.equal(code, ExitCode.auth);
    assert.equal(report.state, "auth");
    assert.equal(report.token_valid, false);
    assert.equal(report.daemon_state, "stopped");
    assert.equal(lines[1], "homeserver  http://hs.test (token refused)");
    assert.equal(lines[3], "daemon      not running: it stopped on an error: 401 M_UNKNOWN_TOKEN");
  });

  await t.step("no daemon, or one stopped cleanly: stopped, 8", async () => {
    for (const record of [null, { state: "stopped" as const }]) {
      const { code, report } = await status({ record });
      assert.equal(code, ExitCode.stale);
      assert.equal(report.state, "stopped");
    }
  });

  await t.step(
    "what is wrong with the agent's rooms is shown, each character visible",
    async () => {
      const refused = 'The room "!squat:hs.test" behind "#agents-builder:hs.test" is not this ' +
        'agent\'s own: it was made by "@mallory:hs.test".';
      const { code, report, lines } = await status({
        lease: true,
        life: "held",
        record: { warnings: [refused, "removed\u2028forged line"] },
      });
      assert.equal(code, ExitCode.ok);
      assert.deepEqual(report.daemon?.warnings, [refused, "removed\u2028forged line"]);
      assert.deepEqual(lines.slice(4), [
        `warning     ${refused}`,
        "warning     removed\\u2028forged line",
      ]);
    },
  );

  await t.step("a lease taken before the holder's first record is starting", async () => {
    const { code, report } = await status({ lease: true, record: null });
    assert.equal(code, ExitCode.ok);
    assert.equal(report.state, "starting");
  });

  await t.step("the predecessor's record is not shown as the new holder's", async () => {
    const { code, report, lines } = await status({
      lease: true,
      record: { pid: 50, state: "stopped", lastError: "an old failure" },
    });
    assert.equal(code, ExitCode.ok);
    assert.equal(report.state, "starting");
    assert.equal(report.lease?.pid, DAEMON_PID);
    assert.equal(report.daemon, null);
    assert.equal(lines[3], `daemon      starting (pid ${DAEMON_PID})`);
  });
});

Deno.test("every state has its exit code: 0 only while a daemon lives and works", () => {
  assert.deepEqual(STATUS_EXIT_CODES, {
    running: 0,
    starting: 0,
    unreachable: 5,
    rate_limited: 6,
    auth: 4,
    stopped: 8,
    stale: 8,
    dead: 8,
  });
});

Deno.test("status through the CLI, with a stored login", async (t) => {
  const daemon = (lastSyncAt: number | null, state: "running" | "stopped" = "running") => ({
    pid: 99,
    host: "test-host",
    name: "builder",
    startedAt: 0,
    lastSyncAt,
    state,
    lastError: lastSyncAt === null ? null : "sync failed: 502",
    failure: null,
    spaceId: "!space:hs.test",
    lobbyId: "!lobby:hs.test",
    roomId: "!builder:hs.test",
    droppedSenders: 0,
  });
  const spaceFound: Handler = () => json({ room_id: "!space:hs.test" });
  // A record alone no longer proves a daemon alive: its process must run and hold the lease.
  const daemonAlive = { processAlive: (pid: number) => pid === 99 };
  const holdLease = (r: DaemonRecords, deps: Deps) => r.syncLease(deps).acquire(99);

  await t.step("no daemon record: exit 8, not running", async () => {
    await using h = await commandHarness(spaceFound);
    await h.login();
    assert.equal(await h.cli("status"), ExitCode.stale);
    assert.deepEqual(h.stdout.lines, [
      `user        ${BOB}`,
      `homeserver  ${HS}`,
      "space       #agents:hs.test (reachable)",
      "daemon      not running",
    ]);
    // The alias and the token are checked at once, in no fixed order.
    assert.deepEqual(h.requests.map(call).sort(), [
      `GET ${V3}/account/whoami`,
      `GET ${V3}/directory/room/#agents:hs.test`,
    ]);
  });

  await t.step("a fresh daemon: exit 0", async () => {
    await using h = await commandHarness(spaceFound, daemonAlive);
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time - 10_000)));
    await h.records((r) => holdLease(r, h.deps));
    assert.equal(await h.cli("status"), 0);
    assert.equal(
      h.stdout.lines[3],
      'daemon      running as "builder" (pid 99), last sync 10s ago',
    );
  });

  // Its pid is not running here, so status now calls it dead rather than stale; still exit 8.
  await t.step("a daemon silent for two long-polls and the slack is stale: exit 8", async () => {
    await using h = await commandHarness(spaceFound);
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time - 75_000)));
    assert.equal(await h.cli("status", "--json"), 8);
    const printed = JSON.parse(h.stdout.text);
    assert.equal(printed.daemon.alive, false);
    assert.equal(printed.daemon.last_sync_age_ms, 75_000);
    assert.equal(printed.space, "ok");
    assert.equal(printed.homeserver_reachable, true);
  });

  await t.step("a stopped daemon is not running, a missing Space says so", async () => {
    await using h = await commandHarness(() => json({ errcode: "M_NOT_FOUND", error: "no" }, 404));
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time, "stopped")));
    assert.equal(await h.cli("status"), 8);
    assert.equal(h.stdout.lines[2], "space       #agents:hs.test (missing)");
    assert.equal(h.stdout.lines[3], "daemon      not running");
  });

  await t.step("an unreachable homeserver with a live daemon: exit 5", async () => {
    await using h = await commandHarness(() => {
      throw new TypeError("connection refused");
    }, daemonAlive);
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time)));
    await h.records((r) => holdLease(r, h.deps));
    assert.equal(await h.cli("status"), ExitCode.unreachable);
    assert.equal(h.stdout.lines[1], `homeserver  ${HS} (unreachable)`);
    assert.equal(h.stdout.lines[2], "space       #agents:hs.test (unreachable)");
  });
});
