import assert from "node:assert/strict";
import { Daemon, type DaemonOptions, STARTUP_JITTER_MAX_MS } from "../../src/daemon/daemon.ts";
import { Store } from "../../src/daemon/store.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { spaceEnv } from "../../src/space/env.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "../support/fakes.ts";

const ME = "@agent:hs";
type Answer = Response | "down";
type Script = (r: RecordedRequest, stop: () => void) => Answer;

/** Runs a daemon against a scripted homeserver until the script calls `stop`. */
async function runDaemon(script: Script, overrides: Partial<DaemonOptions> = {}) {
  const clock = new VirtualClock();
  const stop = new AbortController();
  const fake = fakeFetch((r) => {
    const answer = script(r, () => stop.abort());
    return answer === "down" ? Promise.reject(new TypeError("connection refused")) : answer;
  }, clock);
  const deps = { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 };
  const client = new MatrixClient(
    new MatrixHttp({ baseUrl: "http://hs.test", accessToken: "t", deps }),
  );
  const warnings: string[] = [];
  const kv = clock.realKv(await Deno.openKv(":memory:"));
  try {
    const store = new Store(kv, deps, ME);
    const statuses: string[] = [];
    const save = store.saveDaemonStatus.bind(store);
    store.saveDaemonStatus = (status) => {
      statuses.push(`${status.state}${status.lastError ? `: ${status.lastError}` : ""}`);
      return save(status);
    };
    const quiet = { info: () => {}, warn: () => {}, debug: () => {} };
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
      identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 60_000 },
      syncTimeoutMs: 30_000,
      ephemeral: false,
      allowedServers: ["hs"],
      deps,
      log: { info: () => {}, warn: (m) => warnings.push(m), debug: () => {} },
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
      warnings,
      clock,
      unread: await store.unread(),
      since: await store.syncToken(),
      status: await store.daemonStatus(),
    };
  } finally {
    kv.close();
  }
}

const pathOf = (r: RecordedRequest) => decodeURIComponent(r.url.pathname);
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
function homeserver(syncs: ((r: RecordedRequest) => Answer)[], down = 0): Script {
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
});

Deno.test("an ephemeral agent waits its jitter before its first request", async () => {
  const run = await runDaemon(homeserver([]), { ephemeral: true });
  assert.equal(run.clock.sleeps[0], 1000);
  assert.ok(run.requests[0].at >= 1_700_000_000_000 + 1000);
});

Deno.test("startupJitter waits 0–2 s before anything else", async () => {
  for (const random of [0, 0.5, 0.999999]) {
    const clock = new VirtualClock();
    const fake = fakeFetch(() => json({}), clock);
    const deps = { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => random };
    const client = new MatrixClient(
      new MatrixHttp({ baseUrl: "http://hs.test", accessToken: "t", deps }),
    );
    const kv = await Deno.openKv(":memory:");
    try {
      const log = { info: () => {}, warn: () => {}, debug: () => {} };
      const daemon = new Daemon({
        space: spaceEnv({ client, userId: ME, prefix: "agents", federate: false, deps, log }),
        store: new Store(kv, deps, ME),
        identity: { userId: ME, name: "agent", host: "h", version: "v", intervalMs: 60_000 },
        syncTimeoutMs: 30_000,
        ephemeral: true,
        allowedServers: ["hs"],
        deps,
        log,
        pid: 7,
      });
      const delay = await clock.run(daemon.startupJitter());
      assert.ok(delay >= 0 && delay < STARTUP_JITTER_MAX_MS);
      assert.equal(delay, Math.floor(random * STARTUP_JITTER_MAX_MS));
      assert.deepEqual(clock.sleeps, [delay]);
      assert.equal(fake.requests.length, 0);
    } finally {
      kv.close();
    }
  }
});
