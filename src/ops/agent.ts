/** Running as an agent: the long-running daemon, or one heartbeat for cron. */
import { Daemon } from "../daemon/daemon.ts";
import { HeartbeatWriter } from "../daemon/heartbeat_writer.ts";
import { StatusTopic } from "../daemon/topic.ts";
import { MatrixError } from "../errors.ts";
import { LeaseHeldError } from "../daemon/lease.ts";
import type { AgentStatus } from "../space/agents.ts";
import { agentRoomId, lobbyRoomId } from "../space/lookup.ts";
import { validateAgentName } from "../space/names.ts";
import { enter } from "../space/registration.ts";
import { VERSION } from "../version.ts";
import { type OpContext, openSession, requireName } from "./session.ts";

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
  let rooms: string[];
  try {
    rooms = [await agentRoomId(space, name), await lobbyRoomId(space)];
    await writer.beat(rooms, options.status);
  } catch (err) {
    if (!(err instanceof MatrixError && (err.status === 403 || err.status === 404))) throw err;
    await space.cache?.delete(name);
    const { directory, roomId } = await enter(space, name, { host, version: VERSION });
    rooms = roomId === null ? [directory.lobbyId] : [roomId, directory.lobbyId];
    await writer.beat(rooms, options.status);
  }
  // With its own room first: the topic tells people there whether the agent is around.
  if (rooms.length === 2) {
    await new StatusTopic(session.client, host, ctx.deps.now).keep(rooms[0], options.status).catch(
      (err: Error) => ctx.log.warn(`The room topic could not be kept: ${err.message}`),
    );
  }
  return { name, status: options.status, room_ids: rooms };
}

export interface DaemonOptions extends AgentOptions {
  ephemeral?: boolean;
  /** Seconds between heartbeats, as the user gave them. */
  interval?: string;
}

/** Runs the agent until `signal` aborts, then says goodbye with an offline beat. */
export async function runDaemon(
  ctx: OpContext,
  options: DaemonOptions,
  signal: AbortSignal,
): Promise<void> {
  // A bad name fails before any file or request is touched.
  if (options.name !== undefined) validateAgentName(options.name);
  await using session = await openSession(ctx, {
    name: options.name,
    heartbeat_interval: options.interval,
  });
  const { config } = session;
  const name = requireName(config);
  // One sync loop per account: a second would split the inbox's truth and `status` with it.
  const lease = session.store.syncLease(ctx.deps);
  try {
    await lease.acquire(ctx.deps.pid, signal);
  } catch (err) {
    // Stopped while waiting for a silent holder's lease to lapse: nothing ran, nothing to undo.
    if (signal.aborted) return;
    throw err;
  }
  try {
    await new Daemon({
      space: session.space,
      store: session.store,
      inbox: session.inbox,
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
    await lease.release();
  }
}

/** Where an MCP server's agent syncs: in that process, or in another that already does. */
export type SyncHost = "here" | "elsewhere";

/**
 * The sync loop for a server that serves one agent (`cchat mcp`): run here
 * until `signal` stops it, unless another process already holds the agent's
 * lease, whose inbox is then read as it fills. Exactly one loop per agent.
 */
export async function hostSyncLoop(ctx: OpContext, signal: AbortSignal): Promise<SyncHost> {
  try {
    await runDaemon(ctx, {}, signal);
    return "here";
  } catch (err) {
    if (!(err instanceof LeaseHeldError)) throw err;
    ctx.log.info(`${err.message} Its inbox is read as it fills.`);
    return "elsewhere";
  }
}
