/**
 * Mass boot: a fleet of N agents in one `cchat daemon --agents DIR`, all
 * started at once against Synapse's default rate limits, for N = 100 and 400
 * (CCHAT_BENCH_BOOT_SIZES to change them). Each size boots twice, each time
 * into a Space of its own:
 * - accounts only (`cchat provision --out DIR`): every agent joins the Space
 *   and the lobby as it boots, through the per-room join limit;
 * - after `cchat provision --rooms`: the joins, rooms and entries were made
 *   up front, and the boot only finds them.
 * Runs on its own homeserver, since it needs the default limits the others turn off.
 */
import { cchat, type CliResult } from "../../harness/cli.ts";
import { cpuSeconds, isRunning } from "../../harness/proc.ts";
import { freshUser, type TestUser, uniquePrefix } from "../../harness/users.ts";
import {
  cchatCacheDir,
  type Homeserver,
  startHomeserver,
  stopHomeserver,
} from "../../harness/homeserver/mod.ts";
import { readCredentials } from "../../src/credentials.ts";
import { realSleep } from "../../src/deps.ts";
import { aliasesFor, EVENT_AGENT } from "../../src/space/names.ts";
import { clientFor } from "../../harness/matrix.ts";
import { randomHex } from "../../src/encoding.ts";
import { agentName, fleetEnv, onlineCount, spawnFleetDaemon, WHO_POLL_MS } from "./fleetmem.ts";
import { type BenchContext, type Row, type Section, sizesFromEnv } from "./report.ts";

const PORT = 18461;
/** The fleet sizes when CCHAT_BENCH_BOOT_SIZES does not say. */
const SIZES = [100, 400];
/** The production heartbeat interval and long-poll. */
const INTERVAL_S = 60;
const SYNC_TIMEOUT_S = 30;
const CAP_MS = 20 * 60_000;
/** Synapse's default `rc_joins_per_room`: the floor of a boot that joins at boot. */
const JOINS_PER_ROOM = { perSecond: 1, burst: 10 };
/** Targets: a provisioned fleet online within a minute; one that joins, near the join floor. */
const PROVISIONED_TARGET_MS = 60_000;
const FLOOR_MARGIN = 1.2;
/** Synapse's default rc_room_creation allows a burst of 10; past this many the limits are off. */
const CREATE_PROBE_MAX = 20;

type Variant = "accounts" | "rooms";

interface BootRun {
  agents: number;
  variant: Variant;
  provisionMs: number;
  /** From the daemon's spawn to the `who` poll that saw every agent online; null past the cap. */
  allOnlineMs: number | null;
  online: number;
  /** The join limit's floor for this fleet; 0 when nothing is joined at boot. */
  floorMs: number;
  /** When the last agent's directory entry landed, by the server's clock: the boots' end. */
  lastEntryMs: number | null;
  bootRetries: number;
  /** Agents the daemon stopped, and whether the daemon itself died or exited non-zero. */
  stoppedAgents: number;
  daemonCrashed: boolean;
  synapseCpuS: number | null;
  daemonCpuS: number | null;
}

export const run: Section = async (context: BenchContext): Promise<Row[]> => {
  const sizes = sizesFromEnv("CCHAT_BENCH_BOOT_SIZES", SIZES);
  const dataDir = `${cchatCacheDir()}/bench-homeserver/boot`;
  try {
    const hs = await startHomeserver({ dataDir, port: PORT, limits: "default" });
    const refusedAt = await createRoomBurst(hs, await freshUser(hs, "probe"));
    context.note(`boot: default limits in force (createRoom #${refusedAt} got a 429)`);
    const rows: Row[] = [{
      section: "boot",
      metric: "default limits in force",
      value: `createRoom #${refusedAt} refused (429)`,
      data: { refusedAt },
    }];
    for (const agents of sizes) {
      for (const variant of ["accounts", "rooms"] as const) {
        rows.push(...bootRows(await bootFleet(context, hs, agents, variant)));
      }
    }
    return rows;
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
  agents: number,
  variant: Variant,
): Promise<BootRun> {
  const root = await Deno.makeTempDir({ prefix: "cchat-boot-" });
  const fleet = `${root}/fleet`;
  const prefix = uniquePrefix();
  const env = fleetEnv(root, prefix, INTERVAL_S, SYNC_TIMEOUT_S);
  // Accounts are named after the agents: a run of its own needs names of its own.
  const tag = `b${randomHex(3)}`;
  const names = Array.from({ length: agents }, (_, i) => `${tag}${agentName(i)}`);
  const label = `boot ${agents}, ${variant === "rooms" ? "provision --rooms" : "accounts only"}`;
  try {
    const provisionStarted = performance.now();
    const provisioned = await cchat([
      "provision",
      "--out",
      fleet,
      ...(variant === "rooms" ? ["--rooms"] : []),
      ...names,
    ], {
      ...env,
      XDG_CONFIG_HOME: `${root}/operator`,
      CCHAT_HOMESERVER: hs.baseUrl,
      CCHAT_REGISTRATION_SECRET: hs.registrationSecret,
    });
    if (provisioned.code !== 0) {
      throw new Error(`${label}: provision failed: ${provisioned.stderr}`);
    }
    const provisionMs = performance.now() - provisionStarted;
    context.note(`${label}: provisioned in ${seconds(provisionMs)}, prefix "${prefix}"`);

    const synapseBefore = hs.pid === undefined ? undefined : await cpuSeconds(hs.pid);
    const spawnedAt = Date.now();
    const daemon = spawnFleetDaemon(root, fleet, env);
    const started = performance.now();
    let allOnlineMs: number | null = null;
    let online = 0;
    let daemonDied = false;
    let daemonCpuS: number | null = null;
    let stopped: CliResult;
    try {
      let lastNote = 0;
      while (performance.now() - started < CAP_MS) {
        const pollStarted = performance.now();
        online = await onlineCount(fleet, names[0], env);
        const elapsed = performance.now() - started;
        if (online === agents) {
          allOnlineMs = elapsed;
          break;
        }
        if (!await isRunning(daemon.pid)) {
          daemonDied = true;
          break;
        }
        if (elapsed - lastNote >= 30_000) {
          lastNote = elapsed;
          context.note(`${label}: ${seconds(elapsed)}: ${online}/${agents} online`);
        }
        await realSleep(Math.max(0, WHO_POLL_MS - (performance.now() - pollStarted)));
      }
      daemonCpuS = await cpuSeconds(daemon.pid) ?? null;
    } finally {
      stopped = await daemon.stop((message) => context.note(`${label}: ${message}`));
    }
    const synapseAfter = hs.pid === undefined ? undefined : await cpuSeconds(hs.pid);
    const lastEntryAt = await lastEntryStamp(hs, `${fleet}/${names[0]}`, prefix);
    const result: BootRun = {
      agents,
      variant,
      provisionMs,
      allOnlineMs,
      online,
      floorMs: variant === "rooms" ? 0 : joinFloorMs(agents),
      lastEntryMs: variant === "rooms" || lastEntryAt === undefined
        ? null
        : lastEntryAt - spawnedAt,
      bootRetries: count(stopped.stderr, /Booting failed/),
      stoppedAgents: count(stopped.stderr, /^\[[^\]]+\] Stopped: /m),
      daemonCrashed: daemonDied || stopped.code !== 0,
      synapseCpuS: synapseBefore === undefined || synapseAfter === undefined
        ? null
        : synapseAfter - synapseBefore,
      daemonCpuS,
    };
    context.note(
      `${label}: ${online}/${agents} online` +
        (allOnlineMs === null ? "" : ` in ${seconds(allOnlineMs)}`) +
        `, ${result.bootRetries} boot retries, ${result.stoppedAgents} agent(s) stopped`,
    );
    return result;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** The server's stamp on the newest agent entry in the Space, read as the agent of `home`. */
async function lastEntryStamp(
  hs: Homeserver,
  home: string,
  prefix: string,
): Promise<number | undefined> {
  const login = await readCredentials(`${home}/cchat`);
  if (!login) return undefined;
  const client = clientFor(hs, login);
  const { roomId } = await client.resolveAlias(aliasesFor(prefix, hs.serverName).space);
  const stamps = (await client.roomState(roomId))
    .filter((event) => event.type === EVENT_AGENT)
    .map((event) => event.origin_server_ts);
  return stamps.length ? Math.max(...stamps) : undefined;
}

/**
 * Every agent joins the Space and the lobby, two rooms whose joins the server
 * admits in parallel: past the burst, one a second each.
 */
const joinFloorMs = (agents: number) =>
  Math.max(0, agents - JOINS_PER_ROOM.burst) / JOINS_PER_ROOM.perSecond * 1000;

const count = (text: string, pattern: RegExp) =>
  text.split("\n").filter((line) => pattern.test(line)).length;

function bootRows(r: BootRun): Row[] {
  const run = `${r.agents} agents, ${
    r.variant === "rooms" ? "provision --rooms" : "accounts only"
  }`;
  const met = r.allOnlineMs !== null &&
    (r.variant === "rooms"
      ? r.allOnlineMs <= PROVISIONED_TARGET_MS
      : r.allOnlineMs <= FLOOR_MARGIN * r.floorMs);
  const crashes = r.stoppedAgents + (r.daemonCrashed ? 1 : 0);
  return [{
    section: "boot",
    metric: `${run}: all online in who`,
    value: (r.allOnlineMs === null
      ? `${r.online}/${r.agents} within ${seconds(CAP_MS)}`
      : seconds(r.allOnlineMs)) +
      (r.variant === "accounts" && r.allOnlineMs !== null
        ? `; join floor ${seconds(r.floorMs)}, ${(r.allOnlineMs / r.floorMs).toFixed(2)}×`
        : ""),
    target: r.variant === "rooms"
      ? `≤ ${seconds(PROVISIONED_TARGET_MS)}`
      : `≤ ${FLOOR_MARGIN}× floor`,
    met,
    data: { ...r },
  }, {
    section: "boot",
    metric: `${run}: last agent entered the Space (server clock)`,
    value: r.lastEntryMs === null ? "at provision" : seconds(r.lastEntryMs),
  }, {
    section: "boot",
    metric: `${run}: provision took`,
    value: seconds(r.provisionMs),
  }, {
    section: "boot",
    metric: `${run}: boot retries; Synapse / daemon CPU`,
    value: `${r.bootRetries}; ${cpu(r.synapseCpuS)} / ${cpu(r.daemonCpuS)}`,
  }, {
    section: "boot",
    metric: `${run}: crashes (agents stopped, daemon died)`,
    value: String(crashes),
    target: "0",
    met: crashes === 0,
  }];
}

const cpu = (s: number | null) => s === null ? "-" : `${Math.round(s)} s`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
