/** Running as an agent: the long-running daemon, or one heartbeat for cron. */
import { FleetBoot } from "../daemon/fleet_boot.ts";
import { AppserviceFeed } from "../daemon/appservice_feed.ts";
import { readRegistration, registrationPath } from "./registration_file.ts";
import { actsFor, type Registration, transactionHandler } from "../matrix/appservice.ts";
import { MatrixClient } from "../matrix/client.ts";
import { AppliedTransactions } from "../store/applied_transactions.ts";
import { Daemon } from "../daemon/daemon.ts";
import { HeartbeatWriter } from "../daemon/heartbeat_writer.ts";
import { StatusTopic } from "../daemon/topic.ts";
import { type Config, loadConfig } from "../config.ts";
import { readCredentials } from "../credentials.ts";
import type { Deps } from "../deps.ts";
import { CchatError, ConfigError, exitCodeOf, hasStatus, UsageError } from "../errors.ts";
import { type LeaseHolder, LeaseLostError } from "../store/lease.ts";
import { lifeLockPath, takeLifeLock } from "../daemon/life_lock.ts";
import { prefixedLogger } from "../log.ts";
import type { AgentStatus } from "../space/agents.ts";
import { validateAgentName } from "../space/names.ts";
import { beatRoomKey, enter } from "../space/registration.ts";
import { VERSION } from "../version.ts";
import { openDataKv } from "../store/open.ts";
import { openSession, transport } from "./session.ts";
import { type OpContext, requireName } from "./local.ts";

export interface AgentOptions {
  /** This agent's name; the configured one when absent. */
  name?: string;
}

export interface HeartbeatOptions extends AgentOptions {
  status: AgentStatus;
}

export interface HeartbeatResult {
  name: string;
  status: AgentStatus;
  room_ids: string[];
}

/**
 * One beat and exit, for cron: no login and no sync. The rooms come from the
 * cache; when they are unknown or refuse the beat, the agent registers itself
 * (idempotently) and beats again.
 */
export async function heartbeat(
  ctx: OpContext,
  options: HeartbeatOptions,
): Promise<HeartbeatResult> {
  // A bad name fails before any file or request is touched.
  if (options.name !== undefined) validateAgentName(options.name);
  await using session = await openSession(ctx, { name: options.name });
  const { space, config } = session;
  const name = requireName(config);
  const host = ctx.deps.hostname();
  const writer = new HeartbeatWriter(session.client, {
    userId: session.userId,
    name,
    host,
    version: VERSION,
    intervalMs: config.heartbeatIntervalMs,
  }, ctx.deps.now);
  // Only the agent's beat room (the lobby in lobby-only mode): a beat wakes every member of its room.
  const cached = await Promise.all([space.cache?.get(name), space.cache?.get(beatRoomKey(name))]);
  let [own, room] = cached.map((entry) => entry?.roomId ?? null);
  try {
    if (room === null) throw new BeatRoomUnknown();
    await writer.beat([room], options.status);
  } catch (err) {
    if (!(err instanceof BeatRoomUnknown || hasStatus(err, 403, 404))) {
      throw err;
    }
    const membership = await enter(space, name, { host, version: VERSION });
    own = membership.roomId;
    room = membership.beatRoomId ?? membership.directory.lobbyId;
    await writer.beat([room], options.status);
  }
  // The topic tells people in the agent's own room whether it is around.
  if (own !== null) {
    await new StatusTopic(session.client, host, ctx.deps.now).keep(own, options.status).catch(
      (err: Error) => ctx.log.warn(`The room topic could not be kept: ${err.message}`),
    );
  }
  return { name, status: options.status, room_ids: [room] };
}

/** No beat room is cached: the agent registers, which finds or makes it. */
class BeatRoomUnknown extends Error {}

export interface DaemonOptions extends AgentOptions {
  ephemeral?: boolean;
  /** Seconds between heartbeats, as the user gave them. */
  interval?: string;
  /**
   * While another process holds the agent's sync loop, wait and take it over
   * when that process stops or dies, instead of failing; told once who holds it.
   */
  standBy?: (holder: LeaseHolder) => void;
}

/** What the agents of one process share. */
interface Shared {
  /** The data directory's KV file, already open. */
  kv?: Deno.Kv;
  fleetBoot?: FleetBoot;
  /** The fleet's application service: its pushed events, and its token each agent acts through. */
  service?: { feed: AppserviceFeed; token: string };
}

/**
 * Runs the agent until `signal` aborts, then says goodbye with an offline
 * beat; with what the process's other agents share, when it hosts several.
 */
export async function runDaemon(
  ctx: OpContext,
  options: DaemonOptions,
  signal: AbortSignal,
  { kv, fleetBoot, service }: Shared = {},
): Promise<void> {
  // A bad name fails before any file or request is touched.
  if (options.name !== undefined) validateAgentName(options.name);
  await using session = await openSession(ctx, {
    name: options.name,
    heartbeat_interval: options.interval,
  }, { kv, serviceToken: service?.token });
  const { config } = session;
  const name = requireName(config);
  // One sync loop per account: a second would split the inbox's truth and `status` with it.
  // The life lock comes first: a lease holder on this host whose lock is free is dead, so its
  // lease is taken at once, not after its lapse. It is also the proof of life `status` reads.
  const lockPath = await lifeLockPath(config.dataDir, session.userId);
  let life = await takeLifeLock(lockPath, ctx.deps.sleep);
  const holderGone = async () => {
    life ??= await takeLifeLock(lockPath, ctx.deps.sleep, 1);
    return life !== undefined;
  };
  const lease = session.records.syncLease(ctx.deps);
  try {
    await lease.acquire(ctx.deps.pid, signal, options.standBy, holderGone);
    // A holder that stopped cleanly gave the lease up: the lock it held is free to take now, and
    // without it `status` would call this loop dead.
    life ??= await takeLifeLock(lockPath, ctx.deps.sleep);
  } catch (err) {
    life?.release();
    // Stopped while waiting for a silent holder's lease to lapse: nothing ran, nothing to undo.
    if (signal.aborted) return;
    throw err;
  }
  try {
    await new Daemon({
      space: session.space,
      store: session.store,
      records: session.records,
      inbox: session.inbox,
      receipts: session.receipts,
      fleetBoot,
      feed: service?.feed,
      lease,
      identity: {
        userId: session.userId,
        name,
        host: ctx.deps.hostname(),
        version: VERSION,
        intervalMs: config.heartbeatIntervalMs,
      },
      syncTimeoutMs: config.syncTimeoutMs,
      ephemeral: options.ephemeral ?? false,
      allowedServers: config.allowedServers.length
        ? config.allowedServers
        : [session.space.serverName],
      deps: ctx.deps,
      log: ctx.log,
      pid: ctx.deps.pid,
    }).run(signal);
  } finally {
    life?.release();
    await lease.release();
  }
}

/**
 * Idle connections a fleet's process keeps to its homeserver. Without a cap
 * it keeps every one it ever opened: 1,261 for 1,000 agents, each also held
 * by the homeserver.
 */
export const FLEET_IDLE_CONNECTIONS = 16;

export interface FleetOptions extends DaemonOptions {
  /** The provision directory: one agent per `DIR/NAME/cchat/credentials.json`. */
  agents: string;
  /**
   * Run as the application service of `DIR/appservice.yaml`: the homeserver
   * pushes the fleet's events, and no agent holds a /sync of its own.
   */
  appservice?: boolean;
}

interface FleetAgent {
  name: string;
  userId: string;
  homeserver: string;
  /** What its own commands take as XDG_CONFIG_HOME. */
  home: string;
}

/** The agents of a provision directory, by name; a directory without a login is not one. */
async function fleetOf(dir: string): Promise<FleetAgent[]> {
  const agents: FleetAgent[] = [];
  const owners = new Map<string, string>();
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "does not exist" : (err as Error).message;
    throw new ConfigError(`The provision directory "${dir}" ${why}.`, {
      hint: 'Make it with "cchat provision --out DIR NAME…".',
    });
  }
  for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
    const home = `${dir}/${entry.name}`;
    const login = entry.isDirectory ? await readCredentials(`${home}/cchat`) : undefined;
    if (!login) continue;
    try {
      validateAgentName(entry.name);
    } catch (err) {
      throw new ConfigError(`The agent directory "${home}" is not named as an agent can be.`, {
        hint: (err as CchatError).hint,
      });
    }
    // Two sync loops of one account in one process would both hold its lease (same pid).
    const other = owners.get(login.userId);
    if (other !== undefined) {
      throw new ConfigError(`The agents "${other}" and "${entry.name}" log in as one account.`, {
        hint: `Each agent of "${dir}" needs its own account: remove one of the two directories.`,
      });
    }
    owners.set(login.userId, entry.name);
    agents.push({ name: entry.name, userId: login.userId, homeserver: login.homeserver, home });
  }
  if (agents.length === 0) {
    throw new ConfigError(`The provision directory "${dir}" holds no agent.`, {
      hint:
        'Each agent is a directory NAME with cchat/credentials.json: "cchat provision --out DIR NAME…".',
    });
  }
  return agents;
}

/**
 * The world as the agent's own commands see it with XDG_CONFIG_HOME=`home`,
 * over the hosting process's data directory. A token or a config file named
 * in the process's environment belongs to no agent in particular.
 */
function agentDeps(deps: Deps, home: string, dataDir: string): Deps {
  const env: Record<string, string | undefined> = {
    XDG_CONFIG_HOME: home,
    CCHAT_DATA_DIR: dataDir,
    CCHAT_ACCESS_TOKEN: undefined,
    CCHAT_CONFIG: undefined,
  };
  return { ...deps, env: (name) => name in env ? env[name] : deps.env(name) };
}

/**
 * Runs every agent of a provision directory in this process, each as
 * `runDaemon` would alone, over one KV file; they boot a few at a time and go
 * live together (see FleetBoot). An agent that fails stops alone; the fleet ends
 * when every agent has, and fails, naming them, unless stopped.
 */
export async function runFleet(
  ctx: OpContext,
  options: FleetOptions,
  signal: AbortSignal,
): Promise<void> {
  if (options.name !== undefined) {
    throw new UsageError("--agents and --name do not go together.", {
      hint: "--agents runs every agent of DIR, each named after its directory; --name runs one.",
    });
  }
  const agents = await fleetOf(options.agents);
  const config = await loadConfig(ctx.deps, {});
  const { dataDir } = config;
  const registration = options.appservice
    ? await fleetRegistration(options.agents, agents)
    : undefined;
  const kv = await openDataKv(ctx.deps, dataDir);
  const names = agents.map(({ name }) => name);
  const stopping = new AbortController();
  const stop = AbortSignal.any([signal, stopping.signal]);
  const feed = registration && new AppserviceFeed({
    applied: new AppliedTransactions(kv, ctx.deps, registration.id),
    attached: new FleetBoot(names, ctx.deps.sleep),
    signal: stop,
    now: ctx.deps.now,
  });
  // Every agent beats and boots at its own moment: a few idle connections serve them all.
  using pool = ctx.deps.pooledFetch(FLEET_IDLE_CONNECTIONS);
  const deps = { ...ctx.deps, fetch: feed ? feed.watch(pool.fetch) : pool.fetch };
  const fleetBoot = new FleetBoot(names, ctx.deps.sleep);
  const failures: { name: string; error: unknown }[] = [];
  let serving: Promise<void> | undefined;
  try {
    serving = feed &&
      serveService({ ...ctx, deps }, config, agents[0].homeserver, registration!, feed, stop);
    const service = feed && { feed, token: registration!.as_token };
    await Promise.all(agents.map(async ({ name, home }) => {
      const log = prefixedLogger(ctx.log, name);
      const agent = { deps: agentDeps(deps, home, dataDir), log };
      try {
        await runDaemon(agent, { ...options, name }, signal, { kv, fleetBoot, service });
      } catch (error) {
        const hint = error instanceof CchatError && error.hint ? ` ${error.hint}` : "";
        log.warn(`Stopped: ${(error as Error).message}${hint}`);
        failures.push({ name, error });
      } finally {
        // One that never booted holds the others back no longer.
        fleetBoot.arrive(name);
        service?.feed.leave(name);
      }
    }));
  } finally {
    stopping.abort();
    await serving;
    kv.close();
  }
  if (failures.length === 0 || signal.aborted) return;
  const [first] = failures;
  throw new CchatError(
    `${failures.length} of ${agents.length} agents stopped: ${
      failures.map(({ name }) => name).join(", ")
    }.`,
    {
      hint: "Their reasons are above; the first one's exit code is this one's.",
      exitCode: exitCodeOf(first.error),
    },
  );
}

/** The fleet's registration, naming every agent of the fleet. */
async function fleetRegistration(dir: string, agents: FleetAgent[]): Promise<Registration> {
  const registration = await readRegistration(dir);
  if (!registration) {
    throw new ConfigError(`The provision directory "${dir}" holds no application service.`, {
      hint: `Write ${
        registrationPath(dir)
      } with "cchat provision --appservice --out ${dir} NAME…".`,
    });
  }
  const strangers = agents.filter(({ userId }) => !actsFor(registration, userId));
  if (strangers.length > 0) {
    throw new ConfigError(
      `The application service of "${dir}" may not act for ${
        strangers.map(({ name }) => `"${name}"`).join(", ")
      }.`,
      {
        hint:
          `Run "cchat provision --appservice --out ${dir}" with those names, and restart the homeserver so that it loads the registration again.`,
      },
    );
  }
  return registration;
}

/**
 * The fleet's application service: answers the homeserver's pushes at the
 * registration's URL into `feed`, and pings through the homeserver once a sync
 * timeout, so each agent can tell when it last heard from it; until `signal`
 * aborts.
 */
function serveService(
  ctx: OpContext,
  config: Config,
  homeserver: string,
  registration: Registration,
  feed: AppserviceFeed,
  signal: AbortSignal,
): Promise<void> {
  const { deps, log } = ctx;
  const url = new URL(registration.url);
  const address = {
    // A URL keeps an IPv6 host in brackets; a listener wants it bare.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port || 80),
  };
  let server: { finished: Promise<void> };
  try {
    server = deps.serve(
      address,
      transactionHandler({
        hsToken: registration.hs_token,
        apply: feed.apply,
        heard: feed.heard,
        log: (message) => log.warn(message),
      }),
      signal,
    );
  } catch (err) {
    throw new ConfigError(
      `The application service cannot listen at "${registration.url}": ${(err as Error).message}.`,
      {
        hint: "Stop what listens there, or change the url in the registration and the homeserver.",
      },
    );
  }
  log.info(`The application service listens at ${registration.url}.`);
  const pinging = (async () => {
    const client = new MatrixClient(
      transport(ctx, config, homeserver).withToken(registration.as_token),
      signal,
    );
    while (!signal.aborted) {
      await client.pingService(registration.id).catch((err: Error) => {
        if (!signal.aborted) log.warn(`The homeserver could not reach the service: ${err.message}`);
      });
      await deps.sleep(config.syncTimeoutMs, signal).catch(() => {});
    }
  })();
  return Promise.all([server.finished, pinging]).then(() => {});
}

/**
 * The sync loop for a server that serves one agent (`cchat mcp`), until
 * `signal` stops it: run here, or, while another process (a daemon) holds the
 * agent's lease, read the inbox as that one fills it and take the loop over
 * as soon as it stops or dies. Exactly one loop per agent at any time.
 */
export async function hostSyncLoop(
  ctx: OpContext,
  options: AgentOptions,
  signal: AbortSignal,
): Promise<void> {
  const standBy = (holder: LeaseHolder) =>
    ctx.log.info(
      `Pid ${holder.pid} on ${holder.host} runs this agent's sync loop; its inbox is read as it fills, and this server takes the loop over when it stops.`,
    );
  while (!signal.aborted) {
    try {
      return await runDaemon(ctx, { ...options, standBy }, signal);
    } catch (err) {
      // Taken over by another process while this one was slow to renew: stand by again.
      if (!(err instanceof LeaseLostError)) throw err;
      ctx.log.warn(`${err.message} Standing by.`);
    }
  }
}
