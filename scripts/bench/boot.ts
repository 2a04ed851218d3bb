/**
 * Figure 5, mass boot: 100 daemons started at once against Synapse's default
 * rate limits, once with the ephemeral startup jitter and once without. Runs on
 * its own homeserver, since it needs the default limits the others turn off.
 */
import pMap from "p-map";
import { Store } from "../../src/daemon/store.ts";
import type { DaemonStatus } from "../../src/daemon/types.ts";
import { realSleep } from "../../src/deps.ts";
import {
  type AgentCli,
  agentCli,
  type CliResult,
  type RunningDaemon,
  statuses,
} from "../../harness/cli.ts";
import { realTime } from "../../harness/matrix.ts";
import { cpuSeconds, isRunning, statusKiB } from "../../harness/proc.ts";
import { freshUser, type TestUser, uniquePrefix } from "../../harness/users.ts";
import {
  cchatCacheDir,
  type Homeserver,
  startHomeserver,
  stopHomeserver,
} from "../../harness/homeserver/mod.ts";
import type { BenchContext, Row, Section } from "./report.ts";
import { ratio, summarize, type Summary } from "./stats.ts";

const PORT = 18461;
const AGENTS = 100;
const CAP_MS = 6 * 60_000;
const POLL_MS = 2000;
const INTERVAL_S = 30;
/** The production long-poll: the helper's 2 s default would make 100 idle daemons hammer Synapse. */
const SYNC_TIMEOUT_S = 30;
/** A boot step in flight is not aborted by SIGTERM and may sit in a 429 wait of up to 120 s. */
const STOP_GRACE_MS = 180_000;
/** Synapse's default rc_room_creation allows a burst of 10; past this many the limits are off. */
const CREATE_PROBE_MAX = 20;
const TARGET = "100/100, zero crashes";

/** One mass boot of a fleet of daemons, and what it measured. */
interface BootRun {
  label: string;
  ephemeral: boolean;
  prefix: string;
  /** From the spawn of the first daemon to the poll that saw all of them online; null past the cap. */
  allOnlineMs: number | null;
  registered: number;
  online: number;
  /** When each agent was first seen online, over the agents that made it. */
  perAgentOnlineMs: Summary | null;
  /** When each agent's m.space.child landed, by the server's clock: boot done, free of poll lag. */
  perAgentRegisteredMs: Summary | null;
  waits429: number;
  overThreeAttempts: number;
  bootRetries: number;
  /** Agents whose daemon recorded its place in the Space in its store. */
  booted: number;
  /** Agents whose daemon recorded a successful /sync. */
  synced: number;
  /** The daemons' recorded states after the stop; a clean stop leaves them all "stopped". */
  finalStates: Record<string, number>;
  /** Sync, heartbeat and other warnings that are not boot retries. */
  otherWarnings: Record<string, number>;
  exitedEarly: string[];
  nonZeroExits: { name: string; code: number }[];
  hungOnStop: string[];
  crashes: number;
  crashTails: Record<string, string>;
  peakRssMiB: number | null;
  daemonCpuS: number;
  synapseCpuS: number | null;
  whoPolls: number;
  /** Failed `who` polls, keyed by their first line without numbers. */
  whoFailures: Record<string, number>;
  slowestWhoMs: number;
  stopMs: number;
  timeline: Sample[];
}

/** One poll: seconds since the spawn, registered and online agents, the poll's seconds, success. */
type Sample = [at: number, registered: number, online: number, took: number, ok: boolean];

export const run: Section = async (context: BenchContext): Promise<Row[]> => {
  const dataDir = `${cchatCacheDir()}/bench-homeserver/boot`;
  try {
    // Shared-secret registration is quick without limits; password logins would hit rc_login.
    let hs = await startHomeserver({ dataDir, port: PORT, limits: "off" });
    context.note(`boot: provisioning ${2 * AGENTS + 3} users on ${hs.baseUrl}`);
    const users = await pMap(
      Array.from({ length: 2 * AGENTS + 3 }),
      () => freshUser(hs, "boot"),
      { concurrency: 8 },
    );
    const [probe, observerA, observerB] = users.splice(2 * AGENTS);
    hs = await startHomeserver({ dataDir, port: PORT, limits: "default" });
    const refusedAt = await createRoomBurst(hs, probe);
    context.note(`boot: default limits in force (createRoom #${refusedAt} got a 429)`);
    const a = await bootFleet(context, hs, users.slice(0, AGENTS), observerA, "A", true);
    const b = await bootFleet(context, hs, users.slice(AGENTS), observerB, "B", false);
    // The server's clock, not who: a who poll under this load takes up to minutes.
    const lastA = a.perAgentRegisteredMs?.max, lastB = b.perAgentRegisteredMs?.max;
    return [
      {
        section: "boot",
        metric: "default limits in force",
        value: `createRoom #${refusedAt} refused (429)`,
        data: { refusedAt },
      },
      ...bootRows(a, "A, jitter"),
      ...bootRows(b, "B, no jitter"),
      {
        section: "boot",
        metric: "last registration, B / A",
        value: lastA && lastB ? ratio(lastB, lastA) : "-",
        data: { a: lastA, b: lastB, whoA: a.allOnlineMs, whoB: b.allOnlineMs },
      },
    ];
  } finally {
    await stopHomeserver(dataDir);
  }
};

/** Creates rooms as one user until the server refuses; the count proves the default limits bind. */
async function createRoomBurst(hs: Homeserver, user: TestUser): Promise<number> {
  for (let n = 1; n <= CREATE_PROBE_MAX; n++) {
    const response = await fetch(`${hs.baseUrl}/_matrix/client/v3/createRoom`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.accessToken}`, "content-type": "application/json" },
      body: "{}",
    });
    const text = await response.text();
    if (response.status === 429) return n;
    if (!response.ok) throw new Error(`createRoom #${n} answered ${response.status}: ${text}`);
  }
  throw new Error(
    `${CREATE_PROBE_MAX} createRoom calls in a row all succeeded: the default limits are not in force.`,
  );
}

async function bootFleet(
  context: BenchContext,
  hs: Homeserver,
  users: TestUser[],
  observerUser: TestUser,
  label: string,
  ephemeral: boolean,
): Promise<BootRun> {
  const prefix = uniquePrefix();
  const options = { prefix, interval: INTERVAL_S, syncTimeout: SYNC_TIMEOUT_S };
  const agents = await Promise.all(
    users.map((user, i) =>
      agentCli(hs, user, `a-${String(i).padStart(3, "0")}`, {
        ...options,
        extraEnv: { CCHAT_DEBUG: "1" },
      })
    ),
  );
  const observer = await agentCli(hs, observerUser, "observer", options);
  context.note(
    `boot ${label}: ${AGENTS} daemons${ephemeral ? " --ephemeral" : ""}, prefix "${prefix}"`,
  );
  const daemons: RunningDaemon[] = [];
  try {
    const synapseCpuBefore = hs.pid === undefined ? undefined : await cpuSeconds(hs.pid);
    const spawnedAt = Date.now();
    const started = performance.now();
    for (const agent of agents) daemons.push(agent.daemon(ephemeral ? ["--ephemeral"] : []));
    const watch = await observe(context, label, agents, daemons, observer, started);
    const synapseCpuAfter = hs.pid === undefined ? undefined : await cpuSeconds(hs.pid);
    const stopStarted = performance.now();
    const stopped = await stopAll(agents, daemons.splice(0));
    const stopMs = Math.round(performance.now() - stopStarted);
    const registeredAt = await registrationTimes(hs, observerUser, prefix, users);
    const recorded = await Promise.all(agents.map(daemonStatus));
    const result = tally({ label, ephemeral, prefix }, watch, stopped, recorded, {
      stopMs,
      perAgentRegisteredMs: registeredAt.length
        ? summarize(registeredAt.map((at) => at - spawnedAt))
        : null,
      synapseCpuS: synapseCpuBefore === undefined || synapseCpuAfter === undefined
        ? null
        : Math.round(synapseCpuAfter - synapseCpuBefore),
    });
    context.note(
      `boot ${label}: ${result.online}/${AGENTS} online, ${result.crashes} crash(es), ` +
        `${result.waits429} 429 waits, stopped in ${seconds(result.stopMs)}`,
    );
    return result;
  } finally {
    // Only reached with daemons left when something above threw: do not leave them running.
    await stopAll(agents, daemons);
    await Promise.all([...agents, observer].map((agent) => agent[Symbol.asyncDispose]()));
  }
}

interface Watch {
  allOnlineMs: number | null;
  last: Record<string, string>;
  firstOnlineMs: Map<string, number>;
  exitedEarly: string[];
  peakRssKiB: number | null;
  daemonCpuS: number;
  whoFailures: Record<string, number>;
  timeline: Sample[];
}

/** Polls `who --all` every 2 s until every agent is online or the cap passes, watching the pids. */
async function observe(
  context: BenchContext,
  label: string,
  agents: AgentCli[],
  daemons: RunningDaemon[],
  observer: AgentCli,
  started: number,
): Promise<Watch> {
  const watch: Watch = {
    allOnlineMs: null,
    last: {},
    firstOnlineMs: new Map(),
    exitedEarly: [],
    peakRssKiB: null,
    daemonCpuS: 0,
    whoFailures: {},
    timeline: [],
  };
  const pids = new Map(agents.map((agent, i) => [agent.name, daemons[i].pid]));
  let lastNote = 0;
  while (performance.now() - started < CAP_MS) {
    const pollStarted = performance.now();
    let ok = true;
    try {
      watch.last = await statuses(observer);
    } catch (e) {
      ok = false;
      const first = (e instanceof Error ? e.message : String(e)).split("\n")[0];
      const key = first.replace(/\d+/g, "N").slice(0, 160);
      watch.whoFailures[key] = (watch.whoFailures[key] ?? 0) + 1;
    }
    const elapsed = performance.now() - started;
    const online = Object.entries(watch.last).filter(([, status]) => status === "online");
    for (const [name] of online) {
      if (!watch.firstOnlineMs.has(name)) watch.firstOnlineMs.set(name, elapsed);
    }
    const registered = Object.keys(watch.last).length;
    const took = (performance.now() - pollStarted) / 1000;
    watch.timeline.push([tenths(elapsed / 1000), registered, online.length, tenths(took), ok]);

    for (const [name, pid] of pids) {
      if (!watch.exitedEarly.includes(name) && !await isRunning(pid)) {
        watch.exitedEarly.push(name);
        context.note(`boot ${label}: daemon ${name} (pid ${pid}) exited after ${seconds(elapsed)}`);
      }
    }
    const rss = await totalRssKiB([...pids.values()]);
    watch.peakRssKiB = Math.max(watch.peakRssKiB ?? 0, rss);

    if (elapsed - lastNote >= 10_000) {
      lastNote = elapsed;
      context.note(
        `boot ${label}: ${seconds(elapsed)}: ${registered}/${AGENTS} registered, ` +
          `${online.length}/${AGENTS} online, ${Math.round(rss / 1024)} MiB RSS` +
          (ok ? "" : ", who failed"),
      );
    }
    if (online.length >= agents.length) {
      watch.allOnlineMs = elapsed;
      break;
    }
    await realSleep(Math.max(0, POLL_MS - (performance.now() - pollStarted)));
  }
  const cpu = await Promise.all([...pids.values()].map(cpuSeconds));
  watch.daemonCpuS = Math.round(cpu.reduce((sum: number, s) => sum + (s ?? 0), 0));
  return watch;
}

/** SIGTERM to all at once; one that has not exited after the grace period gets SIGKILL. */
async function stopAll(
  agents: AgentCli[],
  daemons: RunningDaemon[],
): Promise<{ name: string; result: CliResult; hung: boolean }[]> {
  return await Promise.all(daemons.map(async (daemon, i) => {
    let hung = false;
    const stopping = daemon.stop("SIGTERM");
    const timer = setTimeout(() => {
      hung = true;
      daemon.stop("SIGKILL");
    }, STOP_GRACE_MS);
    try {
      return { name: agents[i].name, result: await stopping, hung };
    } finally {
      clearTimeout(timer);
    }
  }));
}

/**
 * The server's timestamps of the fleet's m.space.child events, read with the
 * observer's token (`who` joined it to the Space); empty when it never got in.
 */
async function registrationTimes(
  hs: Homeserver,
  observer: TestUser,
  prefix: string,
  fleet: TestUser[],
): Promise<number[]> {
  const get = async (path: string): Promise<unknown> => {
    const response = await fetch(`${hs.baseUrl}/_matrix/client/v3${path}`, {
      headers: { authorization: `Bearer ${observer.accessToken}` },
    });
    if (response.ok) return await response.json();
    await response.body?.cancel();
    return undefined;
  };
  const alias = encodeURIComponent(`#${prefix}:${hs.serverName}`);
  const room = await get(`/directory/room/${alias}`) as { room_id?: string } | undefined;
  if (!room?.room_id) return [];
  const state = await get(`/rooms/${encodeURIComponent(room.room_id)}/state`) as
    | { type: string; sender: string; origin_server_ts: number }[]
    | undefined;
  const members = new Set(fleet.map((user) => user.userId));
  return (state ?? [])
    .filter((event) => event.type === "m.space.child" && members.has(event.sender))
    .map((event) => event.origin_server_ts);
}

/** What an agent's daemon recorded in its store, read after the daemon stopped. */
async function daemonStatus(agent: AgentCli): Promise<DaemonStatus | undefined> {
  const path = `${agent.env.XDG_STATE_HOME}/cchat/cchat.kv`;
  // A daemon that died before opening its store left no file to open.
  if (!await Deno.stat(path).then(() => true, () => false)) return undefined;
  const kv = await Deno.openKv(path);
  try {
    return await new Store(kv, realTime, agent.user.userId).daemonStatus();
  } finally {
    kv.close();
  }
}

function tally(
  run: Pick<BootRun, "label" | "ephemeral" | "prefix">,
  watch: Watch,
  stopped: { name: string; result: CliResult; hung: boolean }[],
  recorded: (DaemonStatus | undefined)[],
  measured: Pick<BootRun, "stopMs" | "perAgentRegisteredMs" | "synapseCpuS">,
): BootRun {
  const finalStates: Record<string, number> = {};
  for (const status of recorded) {
    const state = status?.state ?? "never recorded";
    finalStates[state] = (finalStates[state] ?? 0) + 1;
  }
  // The store keeps only the latest error of each daemon; how often requests
  // waited on a 429, gave up, or retried the boot is only ever said on stderr.
  const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;
  const otherWarnings: Record<string, number> = {};
  const crashTails: Record<string, string> = {};
  let waits429 = 0, overThreeAttempts = 0, bootRetries = 0;
  for (const { name, result } of stopped) {
    const err = result.stderr;
    waits429 += count(err, /rate limited, waiting \d+ ms \(attempt \d+\)/g);
    overThreeAttempts += count(err, /still rate limited after 3 attempts/g);
    bootRetries += count(err, /^warning: Booting failed \(/gm);
    for (const line of err.split("\n")) {
      // Warnings other than boot retries, keyed without their numbers so alike ones add up.
      if (!line.startsWith("warning: ") || line.startsWith("warning: Booting failed")) continue;
      const key = line.slice(9).replace(/\d+/g, "N").slice(0, 160);
      otherWarnings[key] = (otherWarnings[key] ?? 0) + 1;
    }
    if (result.code !== 0 || watch.exitedEarly.includes(name)) {
      crashTails[name] = `exit ${result.code}:\n${err.trimEnd().split("\n").slice(-15).join("\n")}`;
    }
  }
  const firstOnline = [...watch.firstOnlineMs.values()];
  const online = Object.values(watch.last).filter((status) => status === "online").length;
  return {
    ...run,
    ...measured,
    allOnlineMs: watch.allOnlineMs,
    registered: Object.keys(watch.last).length,
    online,
    perAgentOnlineMs: firstOnline.length ? summarize(firstOnline) : null,
    waits429,
    overThreeAttempts,
    bootRetries,
    // The daemon records the lobby once its boot has entered the Space.
    booted: recorded.filter((status) => status?.lobbyId).length,
    synced: recorded.filter((status) => status?.lastSyncAt).length,
    finalStates,
    otherWarnings,
    exitedEarly: watch.exitedEarly,
    nonZeroExits: stopped.filter((s) => s.result.code !== 0).map((s) => ({
      name: s.name,
      code: s.result.code,
    })),
    hungOnStop: stopped.filter((s) => s.hung).map((s) => s.name),
    crashes: Object.keys(crashTails).length,
    crashTails,
    peakRssMiB: watch.peakRssKiB === null ? null : Math.round(watch.peakRssKiB / 1024),
    daemonCpuS: watch.daemonCpuS,
    whoPolls: watch.timeline.length,
    whoFailures: watch.whoFailures,
    slowestWhoMs: Math.round(Math.max(0, ...watch.timeline.map(([, , , took]) => took)) * 1000),
    timeline: watch.timeline,
  };
}

function bootRows(f: BootRun, run: string): Row[] {
  const row = (metric: string, value: string, extra: Partial<Row> = {}): Row => ({
    section: "boot",
    metric: `${run}: ${metric}`,
    value,
    ...extra,
  });
  const spread = (s: Summary | null) =>
    s ? `median ${seconds(s.median)}, last ${seconds(s.max)}` : "none";
  const failedPolls = Object.values(f.whoFailures).reduce((sum, n) => sum + n, 0);
  return [
    row("registered / online", `${f.registered}/${AGENTS} / ${f.online}/${AGENTS}`, {
      target: TARGET,
      met: f.registered === AGENTS && f.online === AGENTS && f.crashes === 0,
      data: { ...f },
    }),
    row(
      "time to all online in who",
      f.allOnlineMs === null ? `not all within ${seconds(CAP_MS)}` : seconds(f.allOnlineMs),
      { data: { allOnlineMs: f.allOnlineMs, firstSeenOnline: f.perAgentOnlineMs } },
    ),
    row("registered, server clock", spread(f.perAgentRegisteredMs), {
      data: { registered: f.perAgentRegisteredMs },
    }),
    row(
      "who polls: failed / slowest",
      `${failedPolls} of ${f.whoPolls} / ${seconds(f.slowestWhoMs)}`,
      { data: { failures: f.whoFailures, slowestMs: f.slowestWhoMs } },
    ),
    row(
      "429 waits / calls over 3 attempts / boot retries",
      `${f.waits429} / ${f.overThreeAttempts} / ${f.bootRetries}`,
      { data: { waits429: f.waits429, over: f.overThreeAttempts, retries: f.bootRetries } },
    ),
    row("crashes", String(f.crashes), {
      target: "0",
      met: f.crashes === 0,
      data: { exitedEarly: f.exitedEarly, nonZeroExits: f.nonZeroExits, hung: f.hungOnStop },
    }),
    row(
      "daemons' peak RSS / CPU; Synapse CPU",
      `${f.peakRssMiB ?? "-"} MiB / ${f.daemonCpuS} s; ${f.synapseCpuS ?? "-"} s`,
      { data: { peakRssMiB: f.peakRssMiB, daemonCpuS: f.daemonCpuS, synapseCpuS: f.synapseCpuS } },
    ),
  ];
}

async function totalRssKiB(pids: number[]): Promise<number> {
  const sizes = await Promise.all(pids.map(async (pid) => await statusKiB(pid, "VmRSS") ?? 0));
  return sizes.reduce((sum, kib) => sum + kib, 0);
}

const tenths = (value: number) => Math.round(value * 10) / 10;
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
