/**
 * Synapse's CPU under a fleet of idle agents: N agents in one
 * `cchat daemon --agents DIR`, each with its sync loop and a heartbeat every
 * 10 s into its own room, at N = 50, 100, 200 (and 400 with
 * CCHAT_BENCH_LOAD_400=1). At each N the previous design is measured beside
 * it: the daemon keeps running and this process adds what the old daemons
 * added, each agent's heartbeat into the shared lobby every 10 s with the
 * agent's own token.
 */
import { realSleep } from "../../src/deps.ts";
import { HeartbeatWriter } from "../../src/daemon/heartbeat_writer.ts";
import { aliasesFor } from "../../src/space/names.ts";
import { VERSION } from "../../src/version.ts";
import { cchatCacheDir, homeserverStatus } from "../../harness/homeserver/mod.ts";
import { clientFor } from "../../harness/matrix.ts";
import { cpuSeconds } from "../../harness/proc.ts";
import { type TestUser, uniquePrefix } from "../../harness/users.ts";
import { agentName, fleetEnv, provision, spawnFleetDaemon, waitAllOnline } from "./fleetmem.ts";
import type { BenchContext, Row, Section } from "./report.ts";
import { ratio } from "./stats.ts";

const SIZES = Deno.env.get("CCHAT_BENCH_LOAD_400") === "1" ? [50, 100, 200, 400] : [50, 100, 200];
const INTERVAL_S = 10;
const WINDOW_MS = 60_000;
/** After every agent is online, and after the lobby beats start: one interval and a bit. */
const SETTLE_MS = 15_000;
/** Allowed growth of Synapse's per-agent CPU from 50 agents to the largest fleet. */
const MAX_RATIO = 1.3;

/** The pid of the bench's homeserver, the one scripts/bench.ts starts; undefined under Docker. */
async function synapsePid(context: BenchContext): Promise<number | undefined> {
  const { server } = await homeserverStatus(`${cchatCacheDir()}/bench-homeserver/fast`);
  return server?.baseUrl === context.baseUrl ? server.pid : undefined;
}

/** Synapse's CPU seconds over one window. */
async function cpuOver(pid: number): Promise<number> {
  const before = await cpuSeconds(pid);
  await realSleep(WINDOW_MS);
  const after = await cpuSeconds(pid);
  if (before === undefined || after === undefined) throw new Error(`Synapse (pid ${pid}) is gone`);
  return after - before;
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

const perAgent = (cpuS: number, agents: number) => cpuS / (WINDOW_MS / 60_000) / agents;
const show = (cpuS: number) => `${cpuS.toFixed(4)} CPU s/min`;

export const run: Section = async (context) => {
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
  const results: { agents: number; newS: number; oldS: number }[] = [];
  try {
    for (const size of SIZES) {
      // The directory grows: the agents of the smaller fleet stay, with their rooms.
      const names = Array.from({ length: size }, (_, i) => agentName(i));
      users.push(...await provision(context, fleet, names.slice(users.length)));
      const daemon = spawnFleetDaemon(root, fleet, env);
      try {
        // Booting is Synapse-bound: about 1.2 s per new agent on 2 cores, with room to spare.
        await waitAllOnline(fleet, names, env, Math.max(300_000, size * 3_000));
        await realSleep(SETTLE_MS);
        const newS = await cpuOver(pid);
        const lobby = await clientFor(context, users[0])
          .resolveAlias(aliasesFor(prefix, context.serverName).lobby);
        const stop = new AbortController();
        const beating = beatLobby(context, users, names, lobby.roomId, stop.signal);
        await realSleep(SETTLE_MS);
        const oldS = await cpuOver(pid);
        stop.abort();
        await beating;
        context.note(
          `load: ${size} agents, Synapse ${newS.toFixed(1)} CPU s in ${WINDOW_MS / 1000} s ` +
            `(own rooms), ${oldS.toFixed(1)} with the lobby beats`,
        );
        results.push({ agents: size, newS, oldS });
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
  const rows: Row[] = results.flatMap(({ agents, newS, oldS }) => [{
    section: "load",
    metric: `Synapse CPU per agent, ${agents} idle agents, beats in own rooms`,
    value: show(perAgent(newS, agents)),
    data: { agents, cpuS: newS, windowMs: WINDOW_MS, intervalS: INTERVAL_S },
  }, {
    section: "load",
    metric: `Synapse CPU per agent, ${agents} idle agents, beats also in the lobby (old)`,
    value: show(perAgent(oldS, agents)),
    data: { agents, cpuS: oldS, windowMs: WINDOW_MS, intervalS: INTERVAL_S },
  }]);
  const first = results[0];
  const last = results.at(-1);
  if (first && last && last !== first) {
    const growth = (cpuS: (r: typeof first) => number) =>
      perAgent(cpuS(last), last.agents) / perAgent(cpuS(first), first.agents);
    rows.push({
      section: "load",
      metric: `per agent, ${last.agents}/${first.agents} agents, own rooms`,
      value: ratio(growth((r) => r.newS), 1),
      target: `≤ ${MAX_RATIO}×`,
      met: growth((r) => r.newS) <= MAX_RATIO,
    }, {
      section: "load",
      metric: `per agent, ${last.agents}/${first.agents} agents, with the lobby beats (old)`,
      value: ratio(growth((r) => r.oldS), 1),
    });
  }
  return rows;
};
