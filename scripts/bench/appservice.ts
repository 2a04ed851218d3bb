/**
 * A fleet as an application service against the same fleet syncing, side by
 * side on one homeserver, on PostgreSQL and on SQLite: Synapse's CPU per idle
 * agent at 100, 400 and 1,000 agents (CCHAT_BENCH_APPSERVICE_SIZES), each
 * fleet from `provision` to all online, the fleet daemon's RSS, and a
 * message's way into an agent's inbox through the service against a raw
 * /sync seeing it.
 */
import { realSleep } from "../../src/deps.ts";
import { UsageError } from "../../src/errors.ts";
import { Store } from "../../src/store/store.ts";
import { writeRegistration } from "../../src/ops/registration_file.ts";
import { loadsRegistration, serviceRegistration } from "../../harness/appservice.ts";
import type { Registration } from "../../src/matrix/appservice.ts";
import { aliasesFor } from "../../src/space/names.ts";
import { cchat } from "../../harness/cli.ts";
import {
  cchatCacheDir,
  type Database,
  type Homeserver,
  startHomeserver,
} from "../../harness/homeserver/mod.ts";
import { clientFor, realTime } from "../../harness/matrix.ts";
import { cpuSeconds, statusKiB } from "../../harness/proc.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { agentName, fleetEnv, spawnFleetDaemon, waitAllOnline } from "./fleetmem.ts";
import { syncFloor } from "./floor.ts";
import { type BenchContext, type Row, type Section, sizesFromEnv } from "./report.ts";
import { ms, ratio, spread, summarize } from "./stats.ts";

const SIZES = [100, 400, 1000];
/** Ports of the section's own homeservers, and where their services listen. */
const PORTS: Record<Database, { homeserver: number; service: number }> = {
  postgres: { homeserver: 18465, service: 18467 },
  sqlite: { homeserver: 18466, service: 18468 },
};
const WINDOW_MS = 60_000;
const RSS_EVERY_MS = 5_000;
/** A first boot of 1,000 agents takes Synapse about 11 minutes here: room to spare. */
const ONLINE_TIMEOUT_MS = 1_200_000;
/** After all are online: the first beats, spread over one interval, are not the idle load. */
const SETTLE_MS = 20_000;
/** cchat's default: the load of idle agents as they run. */
const INTERVAL_S = 60;
const POLL_MS = 2;
const ARRIVAL_TIMEOUT_MS = 10_000;
const TARGETS = { growth: 1.2, onlineS: 60, rssMb: 200, latency: 1.5 };
/** Every bench fleet's alias prefix: see uniquePrefix. */
const PREFIX_PATTERN = "t[0-9a-f]{8}";

interface SizeRun {
  agents: number;
  onlineS: number;
  online: number;
  /** The median of the readings through the window, and their highest. */
  rssMb: number;
  rssMaxMb: number;
  serviceCpu: number;
  syncCpu: number;
}

/** A homeserver of `database` that has loaded a registration naming every agent of the largest size. */
async function serviceHomeserver(database: Database, most: number) {
  const dataDir = `${cchatCacheDir()}/bench-homeserver/appservice-${database}`;
  const registration = await serviceRegistration(
    dataDir,
    `http://127.0.0.1:${PORTS[database].service}`,
    Array.from({ length: most }, (_, i) => agentName(i)),
    PREFIX_PATTERN,
  );
  const hs = await startHomeserver({
    dataDir,
    port: PORTS[database].homeserver,
    limits: "off",
    database,
    extraConfig: loadsRegistration(dataDir),
  });
  return { hs, registration };
}

/**
 * Synapse's CPU seconds over the window; and the RSS of `daemon`, when given,
 * every RSS_EVERY_MS through it: one reading would be the moment's (V8 frees
 * what a fleet's boot left only as it collects, ±50 MB at 400 agents).
 */
async function cpuOver(pid: number, daemon?: number) {
  const before = await cpuSeconds(pid);
  const rssMb: number[] = [];
  for (let waited = 0; waited < WINDOW_MS; waited += RSS_EVERY_MS) {
    if (daemon !== undefined) rssMb.push(((await statusKiB(daemon, "VmRSS")) ?? NaN) / 1024);
    await realSleep(RSS_EVERY_MS);
  }
  const after = await cpuSeconds(pid);
  if (before === undefined || after === undefined) throw new Error(`Synapse (pid ${pid}) is gone`);
  return { cpu: after - before, rssMb };
}

const perAgent = (cpuS: number, agents: number) => cpuS / (WINDOW_MS / 60_000) / agents;

/** One size on one homeserver: the service from provision to idle, then the same fleet syncing. */
async function measureSize(
  context: BenchContext,
  hs: Homeserver,
  registration: Registration,
  size: number,
  label: string,
): Promise<SizeRun> {
  const root = await Deno.makeTempDir({ prefix: "cchat-bench-as-" });
  const fleet = `${root}/fleet`;
  const prefix = uniquePrefix();
  const env = fleetEnv(root, prefix, INTERVAL_S);
  const names = Array.from({ length: size }, (_, i) => agentName(i));
  await writeRegistration(fleet, registration);
  try {
    const started = performance.now();
    const provisioned = await cchat(
      ["provision", "--appservice", "--out", fleet, "--homeserver", hs.baseUrl, ...names],
      { ...env, XDG_CONFIG_HOME: `${root}/operator` },
    );
    if (provisioned.code !== 0) throw new Error(`provision failed: ${provisioned.stderr}`);
    const service = spawnFleetDaemon(root, fleet, env, ["--appservice"]);
    let run: Omit<SizeRun, "syncCpu">;
    try {
      const online = await waitAllOnline(fleet, names, env, ONLINE_TIMEOUT_MS);
      const onlineS = (performance.now() - started) / 1000;
      await realSleep(SETTLE_MS);
      const { cpu: serviceCpu, rssMb } = await cpuOver(hs.pid!, service.pid);
      const rss = summarize(rssMb);
      run = { agents: size, onlineS, online, rssMb: rss.median, rssMaxMb: rss.max, serviceCpu };
      context.note(
        `appservice: ${label}, ${size} agents: online in ${onlineS.toFixed(1)} s (${online}), ` +
          `RSS ${rss.median.toFixed(0)} MB (max ${rss.max.toFixed(0)}), ` +
          `Synapse ${serviceCpu.toFixed(1)} CPU s in a minute`,
      );
    } finally {
      await service.stop((message) => context.note(`appservice: ${message}`));
    }
    const syncing = spawnFleetDaemon(root, fleet, env);
    try {
      await waitAllOnline(fleet, names, env, ONLINE_TIMEOUT_MS);
      await realSleep(SETTLE_MS);
      const { cpu: syncCpu } = await cpuOver(hs.pid!);
      context.note(`appservice: ${label}, ${size} agents syncing: Synapse ${syncCpu.toFixed(1)} s`);
      return { ...run, syncCpu };
    } finally {
      await syncing.stop((message) => context.note(`appservice: ${message}`));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Polls `check` every POLL_MS, as the receive section does: a slower poll would be the figure. */
async function soon<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + ARRIVAL_TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(`${what}: nothing in ${ARRIVAL_TIMEOUT_MS} ms`);
    }
    await realSleep(POLL_MS);
  }
}

/** Human send returned → in agent a000's inbox through the service, and → seen by a raw /sync. */
async function latency(context: BenchContext, hs: Homeserver, registration: Registration) {
  const root = await Deno.makeTempDir({ prefix: "cchat-bench-as-latency-" });
  const fleet = `${root}/fleet`;
  const prefix = uniquePrefix();
  const env = fleetEnv(root, prefix, INTERVAL_S);
  const name = agentName(0);
  await writeRegistration(fleet, registration);
  const provisioned = await cchat(
    ["provision", "--appservice", "--out", fleet, "--homeserver", hs.baseUrl, "--json", name],
    { ...env, XDG_CONFIG_HOME: `${root}/operator` },
  );
  if (provisioned.code !== 0) throw new Error(`provision failed: ${provisioned.stderr}`);
  const userId = JSON.parse(provisioned.stdout).agents[0].user_id as string;
  const daemon = spawnFleetDaemon(root, fleet, env, ["--appservice"]);
  let kv: Deno.Kv | undefined;
  try {
    await waitAllOnline(fleet, [name], env, 60_000);
    kv = await Deno.openKv(`${root}/state/cchat/cchat.kv`);
    const store = new Store(kv, realTime, userId);
    const aliases = aliasesFor(prefix, hs.serverName);
    const human = clientFor(hs, await freshUser(hs, "ashuman"));
    const watcher = await freshUser(hs, "asfloor");
    for (const user of [human, clientFor(hs, watcher)]) {
      await user.join(aliases.space, [hs.serverName]);
      await user.join(aliases.agent(name), [hs.serverName]);
    }
    const { roomId } = await human.resolveAlias(aliases.agent(name));
    await using floor = await syncFloor(hs.baseUrl, watcher.accessToken);
    const service: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < 2 + context.samples; i++) {
      const eventId = await human.sendText(roomId, { body: `bench ${i}` });
      const sent = performance.now();
      const inInbox = await soon("the message in the inbox", async () => {
        const unread = await store.unread();
        return unread.some((m) => m.eventId === eventId) ? performance.now() : undefined;
      });
      const seen = await soon("the raw sync", () => Promise.resolve(floor.seen.get(eventId)));
      await store.markRead(await store.unread());
      if (i >= 2) {
        service.push(inInbox - sent);
        raw.push(seen - sent);
      }
      await realSleep(300);
    }
    return { service: summarize(service), floor: summarize(raw) };
  } finally {
    kv?.close();
    await daemon.stop((message) => context.note(`appservice: ${message}`));
    await Deno.remove(root, { recursive: true });
  }
}

/** PostgreSQL and SQLite, or those CCHAT_BENCH_APPSERVICE_DATABASES names (comma-separated). */
function databasesFromEnv(): Database[] {
  const given = Deno.env.get("CCHAT_BENCH_APPSERVICE_DATABASES")?.split(",").map((d) => d.trim());
  const all: Database[] = ["postgres", "sqlite"];
  if (given === undefined) return all;
  const unknown = given.find((d) => !all.includes(d as Database));
  if (unknown !== undefined) {
    throw new UsageError(`CCHAT_BENCH_APPSERVICE_DATABASES names "${unknown}".`, {
      hint: 'Name "postgres", "sqlite" or both, comma-separated.',
    });
  }
  return given as Database[];
}

export const run: Section = async (context) => {
  const sizes = sizesFromEnv("CCHAT_BENCH_APPSERVICE_SIZES", SIZES);
  const rows: Row[] = [];
  for (const database of databasesFromEnv()) {
    const label = database === "postgres" ? "PostgreSQL" : "SQLite";
    const { hs, registration } = await serviceHomeserver(database, Math.max(...sizes));
    if (hs.pid === undefined) {
      context.note("appservice: skipped, Synapse's pid is unknown (a Docker homeserver)");
      return [];
    }
    if (database === "postgres") {
      context.note(`appservice: latency on ${label}, ${context.samples} messages`);
      const { service, floor } = await latency(context, hs, registration);
      const vs = service.median / floor.median;
      rows.push({
        section: "appservice",
        metric: `${label}: human send → inbox, through the service`,
        value: spread(service),
      }, {
        section: "appservice",
        metric: `${label}: human send → a raw /sync sees it (the floor)`,
        value: spread(floor),
      }, {
        section: "appservice",
        metric: `${label}: service/floor at p50`,
        value: `${ratio(service.median, floor.median)} (${ms(service.median)} / ${
          ms(floor.median)
        })`,
        target: `≤ ${TARGETS.latency}×`,
        met: vs <= TARGETS.latency,
      });
    }
    const runs: SizeRun[] = [];
    for (const size of sizes) {
      try {
        runs.push(await measureSize(context, hs, registration, size, label));
      } catch (err) {
        context.note(`appservice: ${label}, ${size} agents not measured: ${err}`);
        break;
      }
    }
    for (const r of runs) {
      const service = perAgent(r.serviceCpu, r.agents);
      const sync = perAgent(r.syncCpu, r.agents);
      rows.push({
        section: "appservice",
        metric: `${label}: Synapse CPU s per agent per minute, ${r.agents} idle, service / sync`,
        value: `${service.toFixed(4)} / ${sync.toFixed(4)} (${ratio(service, sync)})`,
        target: "service below sync",
        met: service < sync,
      }, {
        section: "appservice",
        metric: `${label}: ${r.agents} agents, provision → all online through the service`,
        value: `${r.onlineS.toFixed(1)} s (${r.online}/${r.agents} online)`,
        ...(r.agents >= 1000
          ? { target: `≤ ${TARGETS.onlineS} s`, met: r.onlineS <= TARGETS.onlineS }
          : {}),
      }, {
        section: "appservice",
        metric: `${label}: service daemon RSS, ${r.agents} agents, median (max) over a minute`,
        value: `${r.rssMb.toFixed(0)} MB (${r.rssMaxMb.toFixed(0)} MB)`,
        ...(r.agents >= 1000
          ? { target: `≤ ${TARGETS.rssMb} MB`, met: r.rssMb <= TARGETS.rssMb }
          : {}),
      });
    }
    const [first, last] = [runs[0], runs.at(-1)];
    if (first && last && last !== first) {
      const growth = perAgent(last.serviceCpu, last.agents) /
        perAgent(first.serviceCpu, first.agents);
      rows.push({
        section: "appservice",
        metric: `${label}: service per agent, ${last.agents}/${first.agents} agents`,
        value: ratio(growth, 1),
        target: `≤ ${TARGETS.growth}×`,
        met: growth <= TARGETS.growth,
      });
    }
  }
  return rows;
};
