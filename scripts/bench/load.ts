/**
 * Synapse's CPU under a fleet of idle agents: N agents in one
 * `cchat daemon --agents DIR`, each with its sync loop and a heartbeat every
 * 10 s into its own room, at N = 50, 100, 200 and 400
 * (CCHAT_BENCH_LOAD_SIZES to change them). At each N the previous design is
 * measured beside it: the daemon keeps running and this process adds what the
 * old daemons added, each agent's heartbeat into the shared lobby every 10 s
 * with the agent's own token. A fleet the server cannot keep online (its beats
 * land too late) is still measured, and its rows say how many were online.
 */
import pMap from "p-map";
import { realSleep } from "../../src/deps.ts";
import { HeartbeatWriter } from "../../src/daemon/heartbeat_writer.ts";
import { aliasesFor, EVENT_AGENT, EVENT_HEARTBEAT } from "../../src/space/names.ts";
import { VERSION } from "../../src/version.ts";
import { cchatCacheDir, homeserverStatus } from "../../harness/homeserver/mod.ts";
import { clientFor } from "../../harness/matrix.ts";
import { cpuSeconds } from "../../harness/proc.ts";
import { type TestUser, uniquePrefix } from "../../harness/users.ts";
import { agentName, fleetEnv, provision, spawnFleetDaemon, waitAllOnline } from "./fleetmem.ts";
import { type BenchContext, type Row, type Section, sizesFromEnv } from "./report.ts";
import { ratio } from "./stats.ts";

/** The fleet sizes when CCHAT_BENCH_LOAD_SIZES does not say. */
const SIZES = [50, 100, 200, 400];
const INTERVAL_S = 10;
const WINDOW_MS = 60_000;
/** After every agent is online, and after the lobby beats start: one interval and a bit. */
const SETTLE_MS = 15_000;
/** Fewer of the beats due than this share landing in a window means the server fell behind. */
const SATURATED_BELOW = 0.95;
/** Allowed growth of Synapse's per-agent CPU from 50 agents to the largest fleet. */
const MAX_RATIO = 1.3;

/** The pid of the bench's homeserver, the one scripts/bench.ts starts; undefined under Docker. */
async function synapsePid(context: BenchContext): Promise<number | undefined> {
  const { server } = await homeserverStatus(`${cchatCacheDir()}/bench-homeserver/fast`);
  return server?.baseUrl === context.baseUrl ? server.pid : undefined;
}

/** Synapse's CPU seconds over one window, and the window by the clock Synapse shares. */
async function cpuOver(pid: number): Promise<{ cpuS: number; from: number; to: number }> {
  const from = Date.now();
  const before = await cpuSeconds(pid);
  await realSleep(WINDOW_MS);
  const after = await cpuSeconds(pid);
  const to = Date.now();
  if (before === undefined || after === undefined) throw new Error(`Synapse (pid ${pid}) is gone`);
  return { cpuS: after - before, from, to };
}

/**
 * The beats the server stamped within [from, to] in the agents' beat rooms,
 * read afterwards. A server that cannot keep up lands fewer than were due,
 * and then its CPU per agent is its ceiling divided by N rather than a cost.
 */
async function beatsLanded(
  context: BenchContext,
  users: TestUser[],
  prefix: string,
  window: { from: number; to: number },
): Promise<number> {
  const aliases = aliasesFor(prefix, context.serverName);
  const counts = await pMap(users, async (user) => {
    const client = clientFor(context, user);
    // The agent's entry in the Space names its beat room.
    const { roomId: spaceId } = await client.resolveAlias(aliases.space);
    const entry = await client.getStateEvent(spaceId, EVENT_AGENT, user.userId);
    const roomId = entry.content.beat_room_id as string;
    // Newest first; the window ended a minute or two ago, at one beat per interval.
    const { chunk } = await client.messages(roomId, { limit: 100, types: [EVENT_HEARTBEAT] });
    return chunk.filter((e) => e.origin_server_ts >= window.from && e.origin_server_ts <= window.to)
      .length;
  }, { concurrency: 8 });
  return counts.reduce((sum, n) => sum + n, 0);
}

/** What the old daemons added: every agent beats into the lobby each interval, spread over it. */
function beatLobby(
  context: BenchContext,
  users: TestUser[],
  names: string[],
  lobbyId: string,
  signal: AbortSignal,
): Promise<void[]> {
  const intervalMs = INTERVAL_S * 1000;
  return Promise.all(users.map(async (user, i) => {
    const writer = new HeartbeatWriter(clientFor(context, user), {
      userId: user.userId,
      name: names[i],
      host: Deno.hostname(),
      version: VERSION,
      intervalMs,
    }, Date.now);
    try {
      await realSleep(Math.floor(i * intervalMs / users.length), signal);
      while (!signal.aborted) {
        const next = Date.now() + intervalMs;
        await writer.beat([lobbyId], "online").catch((e) => context.note(`load: ${e}`));
        await realSleep(Math.max(0, next - Date.now()), signal);
      }
    } catch {
      // Aborted: the window is over.
    }
  }));
}

/** One fleet size's figures. */
interface LoadRun {
  agents: number;
  /** Agents `who` showed online before the windows. */
  online: number;
  /** Beats stamped in the own-rooms window, against those due at one per interval. */
  landed: number;
  due: number;
  /** Synapse's CPU seconds in the window, beats in own rooms (new) and also in the lobby (old). */
  newS: number;
  oldS: number;
}

/** Past one Synapse process's capacity: agents shown offline, or beats landing late. */
const saturated = (r: LoadRun) => r.online < r.agents || r.landed < SATURATED_BELOW * r.due;

const perAgent = (cpuS: number, agents: number) => cpuS / (WINDOW_MS / 60_000) / agents;
const show = (cpuS: number) => `${cpuS.toFixed(4)} CPU s/min`;

export const run: Section = async (context) => {
  const sizes = sizesFromEnv("CCHAT_BENCH_LOAD_SIZES", SIZES);
  const pid = await synapsePid(context);
  if (pid === undefined) {
    context.note("load: skipped, Synapse's pid is unknown (an external or Docker homeserver)");
    return [];
  }
  const root = await Deno.makeTempDir({ prefix: "cchat-load-" });
  const fleet = `${root}/fleet`;
  const prefix = uniquePrefix();
  const env = fleetEnv(root, prefix, INTERVAL_S);
  const users: TestUser[] = [];
  const results: LoadRun[] = [];
  try {
    for (const size of sizes) {
      // The directory grows: the agents of the smaller fleet stay, with their rooms.
      const names = Array.from({ length: size }, (_, i) => agentName(i));
      users.push(...await provision(context, fleet, names.slice(users.length)));
      const daemon = spawnFleetDaemon(root, fleet, env);
      try {
        // Booting is Synapse-bound: under half a second per new agent, with room to spare.
        const online = await waitAllOnline(fleet, names, env, 120_000 + size * 1_000);
        await realSleep(SETTLE_MS);
        const own = await cpuOver(pid);
        const lobby = await clientFor(context, users[0])
          .resolveAlias(aliasesFor(prefix, context.serverName).lobby);
        const stop = new AbortController();
        const beating = beatLobby(context, users, names, lobby.roomId, stop.signal);
        await realSleep(SETTLE_MS);
        const { cpuS: oldS } = await cpuOver(pid);
        stop.abort();
        await beating;
        const newS = own.cpuS;
        const landed = await beatsLanded(context, users, prefix, own);
        const due = size * (own.to - own.from) / (INTERVAL_S * 1000);
        context.note(
          `load: ${size} agents (${online} online), Synapse ${newS.toFixed(1)} CPU s in ` +
            `${WINDOW_MS / 1000} s (own rooms, ${landed} of ${Math.round(due)} beats landed), ` +
            `${oldS.toFixed(1)} with the lobby beats`,
        );
        results.push({ agents: size, online, landed, due, newS, oldS });
      } catch (e) {
        // The sizes that finished still make rows.
        context.note(`load: ${size} agents not measured: ${e}`);
        break;
      } finally {
        await daemon.stop((message) => context.note(`load: ${message}`));
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  const rows: Row[] = results.flatMap((run) => {
    const { agents, online, landed, due, newS, oldS } = run;
    const data = { agents, online, landed, due, windowMs: WINDOW_MS, intervalS: INTERVAL_S };
    return [{
      section: "load",
      metric: `Synapse CPU per agent, ${agents} idle agents, beats in own rooms`,
      value: show(perAgent(newS, agents)) +
        (saturated(run)
          ? `; saturated: ${online}/${agents} online, ${landed} of ${Math.round(due)} beats landed`
          : ""),
      data: { ...data, cpuS: newS },
    }, {
      section: "load",
      metric: `Synapse CPU per beat landed, ${agents} idle agents, own rooms`,
      value: `${(newS / landed * 1000).toFixed(1)} ms (${landed} of ${Math.round(due)} due)`,
      data: { ...data, cpuS: newS },
    }, {
      section: "load",
      metric: `Synapse CPU per agent, ${agents} idle agents, beats also in the lobby (old)`,
      value: show(perAgent(oldS, agents)),
      data: { ...data, cpuS: oldS },
    }];
  });
  const first = results[0];
  const last = results.at(-1);
  if (first && last && last !== first) {
    const growth = (cpuS: (r: typeof first) => number) =>
      perAgent(cpuS(last), last.agents) / perAgent(cpuS(first), first.agents);
    rows.push({
      section: "load",
      metric: `per agent, ${last.agents}/${first.agents} agents, own rooms`,
      value: ratio(growth((r) => r.newS), 1) +
        (saturated(last) ? " (a saturated server's ceiling, not a cost)" : ""),
      target: `≤ ${MAX_RATIO}×`,
      met: growth((r) => r.newS) <= MAX_RATIO && !saturated(last),
    }, {
      section: "load",
      metric: `per beat landed, ${last.agents}/${first.agents} agents, own rooms`,
      value: ratio(last.newS / last.landed, first.newS / first.landed),
    }, {
      section: "load",
      metric: `per agent, ${last.agents}/${first.agents} agents, with the lobby beats (old)`,
      value: ratio(growth((r) => r.oldS), 1),
    });
  }
  return rows;
};
