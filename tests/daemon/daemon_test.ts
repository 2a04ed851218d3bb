import assert from "node:assert/strict";
import { FleetBoot } from "../../src/daemon/fleet_boot.ts";
import type { ChangeSignal } from "../../src/store/change_signal.ts";
import { AppserviceFeed } from "../../src/daemon/appservice_feed.ts";
import { AppliedTransactions } from "../../src/store/applied_transactions.ts";
import {
  CATCH_UP_SYNC_TIMEOUTS,
  Daemon,
  type DaemonOptions,
  GOODBYE_MS,
  RECEIPT_POLL_MS,
  STARTUP_JITTER_MAX_MS,
} from "../../src/daemon/daemon.ts";
import { LEASE_RENEW_MS, LEASE_TTL_MS, SyncLoopTakenError } from "../../src/store/lease.ts";
import { Store } from "../../src/store/store.ts";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { spaceEnv } from "../../src/space/env.ts";
import { ExitCode } from "../../src/errors.ts";
import { EVENT_HEARTBEAT, EVENT_SYNC_LOOP } from "../../src/space/names.ts";
import { fakeFetch, json, noAnswer, type RecordedRequest, VirtualClock } from "../support/fakes.ts";
import { cchatRoomAnswer, isCreate } from "../support/space.ts";

const ME = "@agent:hs";
type Answer = Response | "down";
type Script = (r: RecordedRequest, stop: () => void) => Answer | Promise<Answer>;

/** Runs a daemon against a scripted homeserver until the script calls `stop`. */
async function runDaemon(
  script: Script,
  overrides: Partial<DaemonOptions> = {},
  clock = new VirtualClock(),
  /** Sees the KV file, to play another process. */
  onKv: (kv: Deno.Kv) => void = () => {},
  /** Sees the store, to play a reader. */
  onStore: (store: Store) => void | Promise<void> = () => {},
) {
  const stop = new AbortController();
  const fake = fakeFetch(async (r) => {
    const answer = await script(r, () => stop.abort());
    return answer === "down" ? Promise.reject(new TypeError("connection refused")) : answer;
  }, clock);
  const deps = { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 };
  const client = new MatrixClient(
    new MatrixHttp({ baseUrl: "http://hs.test", accessToken: "t", deps }),
  );
  const warnings: string[] = [];
  const kv = clock.realKv(await Deno.openKv(":memory:"));
  onKv(kv);
  try {
    const store = new Store(kv, deps, ME);
    const records = new DaemonRecords(kv, deps, ME);
    await onStore(store);
    const statuses: string[] = [];
    const failures: (string | null)[] = [];
    const save = records.saveStatus.bind(records);
    records.saveStatus = (status) => {
      statuses.push(`${status.state}${status.lastError ? `: ${status.lastError}` : ""}`);
      failures.push(status.failure);
      return save(status);
    };
    const quiet = { info: () => {}, warn: () => {}, debug: () => {} };
    const infos: string[] = [];
    const lease = records.syncLease({ ...deps, hostname: () => "h", processAlive: () => true });
    await lease.acquire(7);
    const renewals: number[] = [];
    const renew = lease.renew.bind(lease);
    lease.renew = () => {
      renewals.push(clock.now());
      return renew();
    };
    const daemon = new Daemon({
      space: spaceEnv({
        client,
        userId: ME,
        prefix: "agents",
        federate: false,
        deps,
        log: quiet,
      }),
      store,
      records,
      lease,
      identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 60_000 },
      syncTimeoutMs: 30_000,
      ephemeral: false,
      allowedServers: ["hs"],
      deps,
      log: { info: (m) => infos.push(m), warn: (m) => warnings.push(m), debug: () => {} },
      pid: 7,
      ...overrides,
    });
    const outcome = await clock.run(
      daemon.run(stop.signal).then(() => undefined, (err: Error) => err),
    );
    return {
      outcome,
      requests: fake.requests,
      statuses,
      failures,
      warnings,
      infos,
      renewals,
      holder: await lease.holder(),
      clock,
      unread: await store.unread(),
      since: await store.syncToken(),
      status: await records.status(),
    };
  } finally {
    kv.close();
  }
}

const pathOf = (r: RecordedRequest) => decodeURIComponent(r.url.pathname);
/** A sync answer with `events` in the timeline of one room. */
const batch = (nextBatch: string, roomId: string, ...events: unknown[]) =>
  json({ next_batch: nextBatch, rooms: { join: { [roomId]: { timeline: { events } } } } });
const message = (id: string, body: string, sender = "@human:hs") => ({
  event_id: id,
  type: "m.room.message",
  sender,
  origin_server_ts: 1000,
  content: { msgtype: "m.text", body },
});

/**
 * A homeserver where every room exists. The first `down` joins find it away;
 * /sync answers come from `syncs` in turn, and the daemon is stopped after them.
 */
function homeserver(syncs: ((r: RecordedRequest) => Answer | Promise<Answer>)[], down = 0): Script {
  let failuresLeft = down;
  let next = 0;
  return (r, stop) => {
    const p = pathOf(r);
    if (p.includes("/join/")) {
      if (failuresLeft-- > 0) return "down";
      return json({
        room_id: p.endsWith("#agents:hs") ? "!space" : p.endsWith("lobby:hs") ? "!lobby" : "!own",
      });
    }
    if (p.endsWith("/filter")) return json({ filter_id: "f1" });
    if (p.endsWith(`/state/m.room.member/${ME}`)) return json({ content: { membership: "join" } });
    if (isCreate(r)) return json({ room_id: "!beat" });
    const proof = cchatRoomAnswer(r, ME);
    if (proof) return proof;
    if (p.endsWith("/sync")) {
      const answer = syncs[next++];
      if (answer) return answer(r);
      stop();
      return json({ next_batch: "end" });
    }
    return json({ event_id: "$x" });
  };
}

Deno.test("the daemon keeps retrying its boot while the homeserver is away, and says so", async () => {
  // Both joins run at once and the transport tries each three times: six failures fail a boot.
  const run = await runDaemon(homeserver([], 6));
  assert.equal(run.outcome, undefined);
  assert.ok(
    run.statuses.some((s) => s.startsWith("retrying: Cannot reach the homeserver")),
    run.statuses.join("\n"),
  );
  assert.ok(run.warnings.some((w) => w.startsWith("Booting failed")), run.warnings.join("\n"));
  assert.equal(run.status?.state, "stopped");
  assert.equal(run.status?.roomId, "!own");
});

Deno.test("the daemon fills the inbox from its second sync on, including a gap", async () => {
  const server = homeserver([
    () =>
      json({
        next_batch: "s1",
        rooms: { join: { "!own": { timeline: { events: [message("$old", "history")] } } } },
      }),
    () =>
      json({
        next_batch: "s2",
        rooms: {
          join: {
            "!own": {
              timeline: { events: [message("$m3", "new")], limited: true, prev_batch: "gap" },
            },
            "!lobby": { timeline: { events: [message("$x", "from afar", "@eve:elsewhere")] } },
          },
        },
      }),
  ]);
  const gaps: (string | null)[] = [];
  const run = await runDaemon((r, stop) => {
    if (!pathOf(r).endsWith("/messages")) return server(r, stop);
    gaps.push(r.url.searchParams.get("to"));
    return r.url.searchParams.get("from") === "gap"
      ? json({ chunk: [message("$m2", "missed two"), message("$m1", "missed one")], end: "older" })
      : json({ chunk: [] });
  });
  assert.equal(run.outcome, undefined);
  assert.deepEqual(gaps, ["s1", "s1"]);
  assert.deepEqual(run.unread.map((m) => m.body), ["missed one", "missed two", "new"]);
  assert.equal(run.since, "end");
  assert.equal(run.status?.droppedSenders, 1);
  const lastBeat = run.requests.filter((r) => pathOf(r).includes("dev.cchat.heartbeat")).at(-1)!;
  assert.equal((lastBeat.body as { status: string }).status, "offline");
});

Deno.test("the room topic says when the agent started and stopped, not at every beat", async () => {
  // Long-polls of a minute each, with a beat every 20 s: several beats, one topic per change.
  const clock = new VirtualClock();
  const minute = async () => {
    await clock.sleep(60_000);
    return json({ next_batch: "s" });
  };
  const run = await runDaemon(homeserver([minute, minute, minute, minute]), {
    identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 20_000 },
  }, clock);
  assert.equal(run.outcome, undefined);
  const topics = run.requests.filter((r) => pathOf(r).endsWith("/state/m.room.topic/"));
  assert.deepEqual(
    topics.map((r) => [pathOf(r).split("/")[5], (r.body as { topic: string }).topic]),
    [
      ["!own", "started on h at 2023-11-14 22:13 UTC; its presence shows whether it still runs"],
      ["!own", "stopped at 2023-11-14 22:17 UTC"],
    ],
  );
  const beats = run.requests.filter((r) => pathOf(r).includes("dev.cchat.heartbeat"));
  assert.ok(beats.length > topics.length, `${beats.length} beats`);
});

Deno.test("one agent's state writes never run at once: the topic, then the beats", async () => {
  const clock = new VirtualClock();
  const inFlight = new Map<string, number>();
  let most = 0;
  const server = homeserver([async () => {
    await clock.sleep(30_000);
    return json({ next_batch: "s" });
  }]);
  const run = await runDaemon(
    async (r, stop) => {
      if (r.method !== "PUT" || !pathOf(r).includes("/state/")) return server(r, stop);
      // Per room: two writes at once fork that room's history.
      const room = pathOf(r).split("/")[5];
      inFlight.set(room, (inFlight.get(room) ?? 0) + 1);
      most = Math.max(most, inFlight.get(room)!);
      // Each write takes a while, as a state event does on a busy server.
      await clock.sleep(500);
      inFlight.set(room, inFlight.get(room)! - 1);
      return json({ event_id: "$s" });
    },
    { identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 1_000 } },
    clock,
  );
  assert.equal(run.outcome, undefined);
  assert.equal(most, 1);
  const writes = run.requests.filter((r) => r.method === "PUT" && pathOf(r).includes("/state/"));
  const first = (type: string) => writes.findIndex((r) => pathOf(r).includes(`/state/${type}/`));
  assert.ok(first("m.room.topic") < first(EVENT_HEARTBEAT), "the topic goes first");
});

Deno.test("the goodbye is over within GOODBYE_MS when the homeserver no longer answers", async () => {
  const clock = new VirtualClock();
  let stoppedAt = 0;
  const server = homeserver([]);
  const run = await runDaemon(
    (r, stop) => {
      if (stoppedAt === 0) {
        const answer = server(r, () => {
          stoppedAt = clock.now();
          stop();
        });
        return answer;
      }
      // From the stop on, nothing answers: every goodbye request hangs until it is given up.
      return noAnswer(r);
    },
    {},
    clock,
  );
  assert.equal(run.outcome, undefined);
  assert.ok(clock.now() - stoppedAt <= GOODBYE_MS, `${clock.now() - stoppedAt} ms`);
  assert.ok(run.warnings.some((w) => /final offline heartbeat failed/.test(w)), `${run.warnings}`);
});

Deno.test("a receipt a reader leaves is posted within a second, whatever the long-poll does", async () => {
  const clock = new VirtualClock();
  const rings: (() => void)[] = [];
  const receipts: ChangeSignal = {
    notify: () => Promise.resolve(rings.splice(0).forEach((ring) => ring())),
    changed: (signal) =>
      new Promise((resolve, reject) => {
        rings.push(resolve);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  };
  let readAt = 0;
  let storeOf: Store | undefined;
  const run = await runDaemon(
    homeserver([
      () => json({ next_batch: "s1" }),
      () => batch("s2", "!own", message("$m1", "hi")),
      async () => {
        // A reader takes the message while the long-poll of a minute is under way.
        await clock.sleep(10_000);
        const taken = await storeOf!.claim();
        await storeOf!.handedOver(taken);
        readAt = clock.now();
        await receipts.notify();
        await clock.sleep(50_000);
        return json({ next_batch: "s3" });
      },
    ]),
    { receipts },
    clock,
    undefined,
    (store) => {
      storeOf = store;
    },
  );
  assert.equal(run.outcome, undefined);
  const posted = run.requests.filter((r) => pathOf(r).includes("/receipt/m.read/"));
  assert.equal(posted.length, 1);
  assert.match(pathOf(posted[0]), /\$m1$/);
  assert.ok(posted[0].at - readAt <= 1_000, `${posted[0].at - readAt} ms`);
});

Deno.test("every beat goes to the agent's beat room, none to the lobby or its own room, whose members it would wake", async () => {
  const clock = new VirtualClock();
  const run = await runDaemon(
    homeserver([() => json({ next_batch: "s1" }), async () => {
      await clock.sleep(10_000);
      return json({ next_batch: "s2" });
    }]),
    { identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 1_000 } },
    clock,
  );
  assert.equal(run.outcome, undefined);
  const beats = run.requests.filter((r) => pathOf(r).includes("dev.cchat.heartbeat"));
  assert.ok(beats.length > 5, `${beats.length} beats`);
  assert.deepEqual(
    [...new Set(beats.map(pathOf))],
    [`/_matrix/client/v3/rooms/!beat/state/dev.cchat.heartbeat/${ME}`],
  );
});

Deno.test("in lobby-only mode the beats go to the lobby, the directory there", async () => {
  const server = homeserver([() => json({ next_batch: "s1" })]);
  const run = await runDaemon((r, stop) =>
    isSpaceJoin(r) ? json({ errcode: "M_FORBIDDEN", error: "no" }, 403) : server(r, stop)
  );
  assert.equal(run.outcome, undefined);
  const beats = run.requests.filter((r) => pathOf(r).includes("dev.cchat.heartbeat"));
  assert.ok(beats.length > 0);
  assert.deepEqual(
    [...new Set(beats.map(pathOf))],
    [`/_matrix/client/v3/rooms/!lobby/state/dev.cchat.heartbeat/${ME}`],
  );
});

const isSpaceJoin = (r: RecordedRequest) => pathOf(r).endsWith("/join/#agents:hs");

Deno.test("a failing sync backs off, records the error, and recovers", async () => {
  const run = await runDaemon(homeserver([
    () => json({ next_batch: "s1" }),
    // The transport retries an idempotent call twice itself; the third failure reaches the daemon.
    () => "down",
    () => "down",
    () => "down",
    () => json({ next_batch: "s2" }),
  ]));
  assert.equal(run.outcome, undefined);
  const states = run.statuses.map((s) => s.split(":")[0]);
  assert.deepEqual(states.slice(states.indexOf("retrying")), [
    "retrying",
    "running",
    "running",
    "stopped",
  ]);
  assert.ok(run.statuses.some((s) => /^retrying: Cannot reach the homeserver/.test(s)));
});

Deno.test("a revoked token ends the daemon with the auth error", async () => {
  const run = await runDaemon(
    homeserver([() => json({ errcode: "M_UNKNOWN_TOKEN", error: "gone" }, 401)]),
  );
  assert.equal((run.outcome as { exitCode?: number }).exitCode, 4);
  assert.equal(run.status?.state, "stopped");
  assert.equal(run.status?.failure, "auth");
});

Deno.test("an ephemeral agent sends nothing to the server before its jitter ends", async () => {
  const START = 1_700_000_000_000;
  // With random() at 0.5 the jitter is half of its most.
  const jitter = STARTUP_JITTER_MAX_MS / 2;
  const run = await runDaemon(homeserver([]), { ephemeral: true });
  assert.ok(run.requests.length > 0);
  const early = run.requests.filter((r) => r.at < START + jitter);
  assert.deepEqual(early.map((r) => `${r.method} ${pathOf(r)}`), []);
  // Without it the first request goes at once.
  const eager = await runDaemon(homeserver([]), { ephemeral: false });
  assert.equal(eager.requests[0].at, START);
});

Deno.test("a stop during a long rate-limit wait of the boot ends it at once, and it never comes up", async () => {
  const clock = new VirtualClock();
  const start = clock.now();
  const stopAt = start + 2_000;
  const run = await runDaemon(
    (r, stop) => {
      if (r.at === start) clock.sleep(stopAt - start).then(stop);
      return json({ errcode: "M_LIMIT_EXCEEDED", error: "slow down", retry_after_ms: 52_000 }, 429);
    },
    {},
    clock,
  );
  assert.equal(run.outcome, undefined);
  assert.ok(run.clock.time < stopAt + 1_000, `ended ${run.clock.time - start} ms after the start`);
  assert.deepEqual(
    run.requests.filter((r) => r.at >= stopAt),
    [],
    "nothing is sent after the stop",
  );
  assert.deepEqual(run.infos, [], "never reported up");
  assert.equal(run.status?.state, "stopped");
  assert.equal(run.status?.roomId, null);
});

Deno.test("the lease is renewed on its own clock through a long-poll, and given up by no one but its holder", async () => {
  const clock = new VirtualClock();
  let longPollStart = 0;
  const server = homeserver([
    () => json({ next_batch: "s1" }),
    async () => {
      longPollStart = clock.now();
      await clock.sleep(30_000);
      return json({ next_batch: "s2" });
    },
  ]);
  const run = await runDaemon(server, {}, clock);
  assert.equal(run.outcome, undefined);
  const during = run.renewals.filter((t) => t > longPollStart && t <= longPollStart + 30_000);
  assert.ok(during.length >= 5, `renewals during the long-poll: ${during.length}`);
  for (let i = 1; i < run.renewals.length; i++) {
    assert.equal(run.renewals[i] - run.renewals[i - 1], LEASE_RENEW_MS);
  }
  // The daemon does not release the lease: whoever took it (runDaemon) does.
  assert.ok(run.holder && run.holder.expiresAt > run.clock.time);
  assert.ok(LEASE_TTL_MS >= 3 * LEASE_RENEW_MS);
});

Deno.test("a daemon retrying while the homeserver is away records why, for status", async () => {
  const run = await runDaemon(homeserver([
    () => json({ next_batch: "s1" }),
    () => "down",
    () => "down",
    () => "down",
    () => json({ errcode: "M_LIMIT_EXCEEDED", error: "slow", retry_after_ms: 200_000 }, 429),
  ]));
  assert.equal(run.outcome, undefined);
  assert.deepEqual(
    run.failures.filter((_, i) => run.statuses[i].startsWith("retrying")),
    ["unreachable", "rate_limited"],
  );
  assert.equal(run.status?.failure, null, "cleared by the sync that worked");
});

Deno.test("a daemon that loses its lease stops rather than run a second sync loop", async () => {
  const clock = new VirtualClock();
  let kv: Deno.Kv | undefined;
  const server = homeserver(Array(10).fill(() => json({ next_batch: "s" })));
  const run = await runDaemon(
    async (r, stop) => {
      // Another process took over while this one was too slow to renew (suspended, say).
      if (pathOf(r).endsWith("/sync") && clock.now() >= 1_700_000_000_000 + 6_000) {
        await kv!.set(["user", ME, "lease", "sync"], {
          pid: 8,
          host: "h",
          since: clock.now(),
          expiresAt: clock.now() + LEASE_TTL_MS,
        });
      }
      await clock.sleep(1_000);
      return server(r, stop);
    },
    {},
    clock,
    (opened) => kv = opened,
  );
  assert.equal((run.outcome as { exitCode?: number }).exitCode, ExitCode.busy);
  assert.match((run.outcome as Error).message, /lost the lease/);
  assert.equal(run.holder?.pid, 8, "the new holder keeps it");
  // The record and the agent's rooms are the new holder's now: no "stopped", no goodbye.
  assert.equal(run.status?.state, "running");
  const beats = run.requests.filter((r) => pathOf(r).includes("dev.cchat.heartbeat"));
  assert.ok(beats.every((r) => (r.body as { status: string }).status === "online"));
});

Deno.test("a removed Space link of the agent's own room is restored within a few beats", async () => {
  const clock = new VirtualClock();
  const server = homeserver([
    () => json({ next_batch: "s1" }),
    // One long-poll of 12.5 s: a dozen beats of a second.
    async () => {
      await clock.sleep(12_500);
      return json({ next_batch: "s2" });
    },
  ]);
  const OWN_LINK = "/rooms/!space/state/m.space.child/!own";
  let linked = false;
  let beatsAtRestore = -1;
  const beatCount = (r: RecordedRequest[]) =>
    r.filter((q) => pathOf(q).endsWith(`/!beat/state/dev.cchat.heartbeat/${ME}`)).length;
  const requests: RecordedRequest[] = [];
  const run = await runDaemon(
    (r, stop) => {
      requests.push(r);
      if (!pathOf(r).endsWith(OWN_LINK)) return server(r, stop);
      if (r.method === "GET") {
        return linked
          ? json({ sender: ME, content: { via: ["hs"] } })
          : json({ errcode: "M_NOT_FOUND", error: "no link" }, 404);
      }
      // The registration links the room at boot, and a member removes the link at once.
      if (beatCount(requests) === 0) return json({ event_id: "$boot" });
      beatsAtRestore = beatCount(requests);
      linked = true;
      return json({ event_id: "$restored" });
    },
    { identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 1000 } },
    clock,
  );
  assert.equal(run.outcome, undefined);
  const looks = run.requests.filter((r) => r.method === "GET" && pathOf(r).endsWith(OWN_LINK));
  const puts = run.requests.filter((r) => r.method === "PUT" && pathOf(r).endsWith(OWN_LINK));
  assert.equal(beatsAtRestore, 5, "restored on the fifth beat");
  assert.deepEqual(puts.map((r) => r.body), [{ via: ["hs"] }, { via: ["hs"] }]);
  assert.equal(
    looks.length,
    1 + Math.floor(beatCount(run.requests) / 5),
    "one look at registration, then one every fifth beat",
  );
  assert.ok(looks.length >= 2, "a later look finds the link in place and writes nothing");
  assert.deepEqual(
    run.warnings.filter((w) => w.includes("link in the Space")),
    ["The agent's link in the Space had been removed; it is restored."],
  );
});

/** A request of a live agent: a sync, a beat or the topic that says it is online. */
const isLive = (r: RecordedRequest) =>
  pathOf(r).endsWith("/sync") ||
  [EVENT_HEARTBEAT, "m.room.topic"].some((type) => pathOf(r).includes(`/state/${type}/`));

Deno.test("an agent of a fleet goes live only once the fleet's gate opens", async (t) => {
  await t.step("it syncs and beats after the last other agent booted", async () => {
    const clock = new VirtualClock();
    const fleetBoot = new FleetBoot(["agent", "slow"], clock.sleep);
    const slowBooted = clock.now() + 5_000;
    clock.sleep(5_000).then(() => fleetBoot.arrive("slow"));
    const run = await runDaemon(homeserver([]), { fleetBoot }, clock);
    assert.equal(run.outcome, undefined);
    const live = run.requests.filter(isLive);
    assert.ok(live.length > 0);
    assert.ok(live.every((r) => r.at >= slowBooted), JSON.stringify(live.map((r) => r.at)));
  });

  await t.step("stopped at the gate, it ends without a beat", async () => {
    const clock = new VirtualClock();
    const fleetBoot = new FleetBoot(["agent", "stuck"], clock.sleep);
    let joins = 0;
    const run = await runDaemon(
      (r, stop) => {
        if (pathOf(r).includes("/join/") && ++joins === 2) clock.sleep(1_000).then(stop);
        return homeserver([])(r, stop);
      },
      { fleetBoot },
      clock,
    );
    assert.equal(run.outcome, undefined);
    assert.deepEqual(run.requests.filter(isLive), []);
    assert.equal(run.statuses.at(-1), "stopped");
    fleetBoot.arrive("stuck");
  });
});

Deno.test("a boot refused by a rate limit retries when the server asked, not after a growing backoff", async () => {
  // Both joins of an attempt, three tries each: every boot attempt of the first three fails.
  let refusals = 3 * 6;
  const server = homeserver([]);
  const run = await runDaemon((r, stop) =>
    pathOf(r).includes("/join/") && refusals-- > 0
      ? json({ errcode: "M_LIMIT_EXCEEDED", error: "too many joins", retry_after_ms: 1500 }, 429)
      : server(r, stop)
  );
  assert.equal(run.outcome, undefined);
  const retries = run.warnings.filter((w) => w.startsWith("Booting failed"));
  assert.equal(retries.length, 3, retries.join("\n"));
  // 1.5 s as asked, and up to a second more so a fleet's agents do not come back at once.
  assert.ok(retries.every((w) => w.endsWith("retrying in 2 s.")), retries.join("\n"));
});

Deno.test("the first sync, which only marks where the inbox starts, asks for no room", async () => {
  const run = await runDaemon(homeserver([() => json({ next_batch: "s1" })]));
  assert.equal(run.outcome, undefined);
  const [first, second] = run.requests.filter((r) => pathOf(r).endsWith("/sync"));
  assert.equal(first.url.searchParams.get("since"), null);
  const filter = JSON.parse(first.url.searchParams.get("filter")!);
  assert.deepEqual(filter.room.rooms, []);
  // From its token on, the daemon's own filter: the uploaded one.
  assert.equal(second.url.searchParams.get("since"), "s1");
  assert.equal(second.url.searchParams.get("filter"), "f1");
});

Deno.test("after its first beat an agent waits a random part of the interval, so a fleet gone live together beats apart", async () => {
  const clock = new VirtualClock();
  const run = await runDaemon(
    homeserver([
      () => json({ next_batch: "s1" }),
      async () => {
        await clock.sleep(100_000);
        return json({ next_batch: "s2" });
      },
    ]),
    {},
    clock,
  );
  assert.equal(run.outcome, undefined);
  const online = run.requests
    .filter((r) => pathOf(r).includes(`/state/${EVENT_HEARTBEAT}/`))
    .filter((r) => (r.body as { status: string }).status === "online")
    .map((r) => r.at);
  // random() is 0.5 and the interval 60 s: half an interval, then whole ones.
  assert.deepEqual(online.map((at) => at - online[0]), [0, 30_000, 90_000]);
});

Deno.test("a reply to what the agent sent reaches its inbox from any room it is in", async () => {
  const reply = {
    ...message("$r1", "answer", "@peer:hs"),
    content: {
      msgtype: "m.text",
      body: "answer",
      "m.relates_to": { "m.in_reply_to": { event_id: "$asked" } },
    },
  };
  const run = await runDaemon(
    homeserver([
      () => json({ next_batch: "s1" }),
      () => batch("s2", "!peer-room", reply),
    ]),
    {},
    undefined,
    undefined,
    (store) => void store.rememberSent("$asked", { roomId: "!r", to: "lobby" }),
  );
  assert.equal(run.outcome, undefined);
  assert.deepEqual(run.unread.map((m) => [m.eventId, m.route]), [["$r1", "mention"]]);
});

Deno.test("a receipt watch that fails leaves the slow look to post, without spinning", async () => {
  const clock = new VirtualClock();
  let watches = 0;
  const broken: ChangeSignal = {
    notify: () => Promise.resolve(),
    changed: () => {
      watches++;
      return Promise.reject(new Error("no notifications here"));
    },
  };
  const run = await runDaemon(
    homeserver([() => json({ next_batch: "s1" }), async () => {
      await clock.sleep(60_000);
      return json({ next_batch: "s2" });
    }]),
    { receipts: broken },
    clock,
  );
  assert.equal(run.outcome, undefined);
  // One look at the start, then one every RECEIPT_POLL_MS through the minute.
  assert.ok(watches <= 60_000 / RECEIPT_POLL_MS + 2, `${watches} looks`);
});

Deno.test("a clean stop while the homeserver is away clears the failure it was retrying through", async () => {
  const clock = new VirtualClock();
  const server = homeserver([() => json({ next_batch: "s1" })]);
  let downSince = 0;
  const run = await runDaemon(
    (r, stop) => {
      if (!pathOf(r).endsWith("/sync") || downSince === 0) {
        if (pathOf(r).endsWith("/sync")) downSince = clock.now();
        return server(r, stop);
      }
      // Away from the second sync on: the daemon retries, and is stopped while it does.
      if (clock.now() - downSince > 5_000) stop();
      return "down";
    },
    {},
    clock,
  );
  assert.equal(run.outcome, undefined);
  assert.ok(run.statuses.some((s) => s.startsWith("retrying")), run.statuses.join(" | "));
  assert.equal(run.status?.state, "stopped");
  assert.equal(run.status?.failure, null);
  assert.equal(run.status?.lastError, null);
});

/** A sync answer that carries a record of the account's sync loop. */
const claimBy = (nextBatch: string, content: Record<string, unknown>) =>
  json({ next_batch: nextBatch, account_data: { events: [{ type: EVENT_SYNC_LOOP, content }] } });

Deno.test("a newer sync loop of the account, from any data directory, ends this one", async () => {
  let claimed: Record<string, unknown> | undefined;
  const server = homeserver([
    () => json({ next_batch: "s1" }),
    () => batch("s2", "!own", message("$m1", "before")),
    // Our own claim comes back first: no reason to stop.
    () => claimBy("s3", claimed!),
    // An older loop's record, as a sync answered from Synapse's response cache carries it.
    () => claimBy("s4", { instance: "killed", pid: 11, host: "box", since: 0 }),
    () => batch("s5", "!own", message("$m2", "still ours")),
    () =>
      claimBy("s6", { instance: "other", pid: 12, host: "box", since: Number(claimed!.since) + 1 }),
    () => batch("s7", "!own", message("$m3", "never seen")),
  ]);
  const run = await runDaemon((r, stop) => {
    if (r.method === "PUT" && pathOf(r).endsWith(`/account_data/${EVENT_SYNC_LOOP}`)) {
      claimed = r.body as Record<string, unknown>;
    }
    return server(r, stop);
  });
  assert.ok(run.outcome instanceof SyncLoopTakenError, String(run.outcome));
  assert.equal(run.outcome.exitCode, ExitCode.busy);
  assert.match(run.outcome.message, /pid 12 on box/);
  assert.equal(typeof claimed?.instance, "string");
  assert.deepEqual(run.unread.map((m) => m.eventId), ["$m1", "$m2"]);
  assert.equal(run.status?.state, "stopped");
  assert.match(run.status?.lastError ?? "", /Another sync loop of this account started/);
  // The agent lives on in the other loop: no goodbye from this one.
  const beats = run.requests.filter((r) => pathOf(r).includes(EVENT_HEARTBEAT));
  assert.ok(beats.every((r) => (r.body as { status: string }).status === "online"));
});

Deno.test("an agent out of its own room notices at a look, says so once, and beats on", async () => {
  const clock = new VirtualClock();
  const server = homeserver([() => json({ next_batch: "s1" }), async () => {
    await clock.sleep(12_500);
    return json({ next_batch: "s2" });
  }]);
  const looks: number[] = [];
  const run = await runDaemon(
    (r, stop) => {
      if (!pathOf(r).endsWith(`/rooms/!own/state/m.room.member/${ME}`)) return server(r, stop);
      looks.push(clock.now());
      return json({ errcode: "M_FORBIDDEN", error: "not in room" }, 403);
    },
    { identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 1000 } },
    clock,
  );
  assert.equal(run.outcome, undefined);
  const gone = 'The agent is no longer in its own room "!own"; restart it to rejoin.';
  assert.deepEqual(run.status?.warnings, [gone]);
  assert.deepEqual(run.warnings.filter((w) => w.includes("no longer")), [gone]);
  assert.equal(looks.length, 1, "looked on the fifth beat, and not again once out");
  const beats = run.requests.filter((r) => pathOf(r).includes("dev.cchat.heartbeat"));
  assert.ok(beats.length > 10, "the agent beats on");
});

Deno.test("an agent its fleet's service feeds catches up with syncs of its own", async (t) => {
  await t.step("on attaching, after trouble, and every so often; each event once", async () => {
    const clock = new VirtualClock();
    const kv = clock.realKv(await Deno.openKv(":memory:"));
    const feed = new AppserviceFeed({
      applied: new AppliedTransactions(kv, { ...clock, random: () => 0.5 }, "fleet"),
      attached: new FleetBoot(["agent"], clock.sleep),
      signal: new AbortController().signal,
      now: clock.now,
    });
    const inRoom = (roomId: string, event: ReturnType<typeof message>) => ({
      ...event,
      room_id: roomId,
    });
    const pushes: Promise<void>[] = [];
    const syncs: RecordedRequest[] = [];
    const server = homeserver([]);
    let listed = 0;
    try {
      const run = await runDaemon(
        (r, stop) => {
          const p = pathOf(r);
          // Boot finds the agent in no room and joins them; the feed then asks where it is.
          if (p.endsWith("/joined_rooms")) {
            return json({ joined_rooms: listed++ ? ["!own", "!lobby"] : [] });
          }
          if (!p.endsWith("/sync")) return server(r, stop);
          syncs.push(r);
          switch (syncs.length) {
            case 1:
              // The homeserver pushes meanwhile, and some request of the fleet fails.
              pushes.push(feed.apply("1", [inRoom("!own", message("$pushed", "pushed"))]));
              feed.watch(() => Promise.reject(new TypeError("connection reset")))("http://hs.test")
                .catch(() => {});
              // What came while away, and the pushed event too: both commits at once.
              return json({
                next_batch: "s1",
                rooms: {
                  join: {
                    "!lobby": { timeline: { events: [message("$away", "while away")] } },
                    "!own": { timeline: { events: [message("$pushed", "pushed")] } },
                  },
                },
              });
            case 2:
            case 3:
            case 4:
              return json({ errcode: "M_UNKNOWN", error: "database down" }, 500);
            case 5:
              // The event pushed, and the one the homeserver lost on its way to the service.
              return batch("s2", "!own", message("$pushed", "pushed"), message("$lost", "lost"));
            default:
              stop();
              return json({ next_batch: "end" });
          }
        },
        { feed },
        clock,
        () => {},
        // It stopped at s0: what came while it was away is caught up first.
        (store) => store.commitBatch([], "s0").then(() => {}),
      );
      assert.equal(run.outcome, undefined);
      assert.deepEqual(syncs.map((r) => r.url.searchParams.get("since")), [
        "s0",
        "s1",
        "s1",
        "s1",
        "s1",
        "s2",
      ]);
      // Each a look, not a long-poll, and none makes the agent blink online in Element.
      assert.ok(syncs.every((r) => r.url.searchParams.get("timeout") === "0"));
      assert.ok(syncs.every((r) => r.url.searchParams.get("set_presence") === "offline"));
      // Trouble seen while the first catch-up ran: each tick looks again until one succeeds;
      // then, with no trouble, the net's own rhythm.
      const gaps = syncs.slice(1).map((r, i) => r.at - syncs[i].at);
      assert.deepEqual(gaps, [30_000, 30_000, 30_000, 30_000, CATCH_UP_SYNC_TIMEOUTS * 30_000]);
      await Promise.all(pushes);
      assert.deepEqual(run.unread.map((m) => m.body).sort(), ["lost", "pushed", "while away"]);
      const failed = run.warnings.filter((w) => w.startsWith("Catching up failed"));
      assert.equal(failed.length, 3, run.warnings.join("\n"));
      assert.ok(run.statuses.some((s) => s.startsWith("retrying: ")), run.statuses.join("\n"));
      assert.equal(run.since, "end");
    } finally {
      kv.close();
    }
  });
});
