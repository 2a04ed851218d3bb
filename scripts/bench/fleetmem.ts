/**
 * Resident memory of one `cchat daemon --agents DIR` hosting 100 agents, each
 * with its own login in the provision directory, beside an idle `deno run`
 * (the runtime's floor), both read from /proc once every agent is online.
 */
import pMap from "p-map";
import { realSleep } from "../../src/deps.ts";
import { cchat, type CliResult, spawnDaemon, writeLogin } from "../../harness/cli.ts";
import { freshUser, type TestUser, uniquePrefix } from "../../harness/users.ts";
import { idle, IDLE_SCRIPTS, mb, show, statusKb } from "./memory.ts";
import type { BenchContext, Section } from "./report.ts";

const AGENTS = 100;
/** The target on the whole process, in MB of 10^6 bytes. */
const TARGET_MB = 300;
/** Registrations in flight at once, as the other fleets of the bench make them. */
const SETUP_CONCURRENCY = 8;
/** Every agent online is not every agent past its first long-poll: let them settle. */
const SETTLE_MS = 15_000;

export const agentName = (i: number) => `a${String(i).padStart(3, "0")}`;

/** The environment of a fleet's daemon and of `cchat who` beside it, under `root`. */
export const fleetEnv = (root: string, prefix: string, heartbeatS: number, syncS = 30) => ({
  NO_COLOR: "1",
  XDG_STATE_HOME: `${root}/state`,
  CCHAT_ALIAS_PREFIX: prefix,
  CCHAT_HEARTBEAT_INTERVAL: String(heartbeatS),
  CCHAT_SYNC_TIMEOUT: String(syncS),
});

/** Registers one user per name and writes its login where `daemon --agents DIR` looks. */
export async function provision(
  context: BenchContext,
  fleet: string,
  names: string[],
): Promise<TestUser[]> {
  return await pMap(names, async (agent) => {
    const user = await freshUser(context, "fleet");
    await writeLogin(`${fleet}/${agent}`, context.baseUrl, user);
    return user;
  }, { concurrency: SETUP_CONCURRENCY });
}

export interface FleetDaemon {
  pid: number;
  /** SIGTERM, then the exit; a non-zero exit is noted with its stderr. */
  stop(note: (message: string) => void): Promise<CliResult>;
}

/** One `cchat daemon --agents DIR --ephemeral` hosting every agent of `fleet`, with `extra` flags. */
export function spawnFleetDaemon(
  root: string,
  fleet: string,
  env: Record<string, string>,
  extra: string[] = [],
): FleetDaemon {
  const daemon = spawnDaemon(["--agents", fleet, "--ephemeral", ...extra], {
    ...env,
    XDG_CONFIG_HOME: `${root}/operator`,
  });
  return {
    pid: daemon.pid,
    async stop(note) {
      const result = await daemon.stop();
      if (result.code !== 0) note(`the daemon exited ${result.code}: ${result.stderr}`);
      return result;
    },
  };
}

/** How many agents `who`, as `name` of `fleet`, shows online; 0 when it fails (a swamped server). */
export async function onlineCount(
  fleet: string,
  name: string,
  env: Record<string, string>,
): Promise<number> {
  const { code, stdout } = await cchat(["who", "--json"], {
    ...env,
    XDG_CONFIG_HOME: `${fleet}/${name}`,
  });
  if (code !== 0) return 0;
  const { agents } = JSON.parse(stdout) as { agents: { status: string }[] };
  return agents.filter((agent) => agent.status === "online").length;
}

/** `who` reads one beat per agent: polling it faster would load the server being measured. */
export const WHO_POLL_MS = 5_000;

/**
 * Polls `cchat who`, as the first agent, until it shows every one of `names`
 * online or `timeoutMs` has passed; how many it saw online last.
 */
export async function waitAllOnline(
  fleet: string,
  names: string[],
  env: Record<string, string>,
  timeoutMs = 300_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const online = await onlineCount(fleet, names[0], env);
    if (online === names.length || Date.now() > deadline) return online;
    await realSleep(WHO_POLL_MS);
  }
}

export const run: Section = async (context) => {
  const root = await Deno.makeTempDir({ prefix: "cchat-fleetmem-" });
  const fleet = `${root}/fleet`;
  const prefix = uniquePrefix();
  // The production intervals: a fleet of one process long-polls as a fleet of daemons would.
  const env = fleetEnv(root, prefix, 60);
  const names = Array.from({ length: AGENTS }, (_, i) => agentName(i));
  await provision(context, fleet, names);
  context.note(`fleetmem: ${AGENTS} agents provisioned in ${fleet}, prefix "${prefix}"`);
  const floor = await idle(IDLE_SCRIPTS.floor);
  const daemon = spawnFleetDaemon(root, fleet, env);
  try {
    const started = performance.now();
    const online = await waitAllOnline(fleet, names, env);
    if (online < AGENTS) {
      throw new Error(`fleetmem: only ${online} of ${AGENTS} agents came online`);
    }
    const onlineS = Math.round((performance.now() - started) / 1000);
    await realSleep(SETTLE_MS);
    const kb = await statusKb(daemon.pid, "VmRSS");
    const peakKb = await statusKb(daemon.pid, "VmHWM");
    const floorKb = await statusKb(floor.pid, "VmRSS");
    context.note(`fleetmem: all online in ${onlineS} s; RSS ${show(kb)}, floor ${show(floorKb)}`);
    return [{
      section: "fleetmem",
      metric: `one daemon hosting ${AGENTS} agents: RSS (peak)`,
      value: `${show(kb)} (${show(peakKb)}); ${show(kb - floorKb)} over the floor, ` +
        `${show((kb - floorKb) / AGENTS)} per agent`,
      target: `≤ ${TARGET_MB} MB`,
      met: mb(kb) <= TARGET_MB,
      data: { agents: AGENTS, onlineS, settleMs: SETTLE_MS, kb, peakKb, floorKb },
    }, {
      section: "fleetmem",
      metric: "runtime floor: idle deno run",
      value: show(floorKb),
    }];
  } finally {
    await daemon.stop((message) => context.note(`fleetmem: ${message}`));
    await floor.stop();
    await Deno.remove(root, { recursive: true });
  }
};
