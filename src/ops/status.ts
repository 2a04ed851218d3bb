import type { Deps } from "../deps.ts";
import { CchatError, ExitCode, hasStatus, MatrixError, NetworkError } from "../errors.ts";
import { SYNC_TIMEOUT_HEADROOM_MS } from "../matrix/client.ts";
import type { LeaseHolder } from "../store/lease.ts";
import { lifeLockHeld, lifeLockPath } from "../daemon/life_lock.ts";
import type { DaemonStatus } from "../store/types.ts";
import { openSession } from "./session.ts";
import type { OpContext } from "./local.ts";

/** How the Space answered: there, no such room, refused otherwise, or no answer at all. */
export type SpaceCheck = "ok" | "unreachable" | "missing" | "error";

/**
 * What the daemon is doing, as a watchdog needs it: alive and syncing,
 * alive and booting, alive and waiting on the homeserver, or not alive for
 * one of three reasons (stopped cleanly or never started; hung; crashed).
 */
export type DaemonState =
  | "running"
  | "starting"
  | "unreachable"
  | "rate_limited"
  | "stopped"
  | "stale"
  | "dead";

/** The one answer of `status`: the daemon's state, unless the token itself is refused. */
export type StatusState = DaemonState | "auth";

const ALIVE: ReadonlySet<DaemonState> = new Set([
  "running",
  "starting",
  "unreachable",
  "rate_limited",
]);

export interface StatusResult {
  user_id: string;
  homeserver: string;
  homeserver_reachable: boolean;
  /** False when the homeserver refuses the access token (revoked, or the account deactivated). */
  token_valid: boolean;
  space_alias: string;
  space: SpaceCheck;
  state: StatusState;
  daemon_state: DaemonState;
  /** Who holds the sync loop's lease, while someone does. */
  lease: LeaseHolder | null;
  daemon: (DaemonStatus & { alive: boolean; last_sync_age_ms: number | null }) | null;
}

/**
 * A daemon idles in /sync for one long-poll at a time and records each
 * return, so two long-polls and the request's headroom without a record
 * means its sync loop is stuck, however alive its process.
 */
export const staleAfterMs = (syncTimeoutMs: number) => 2 * syncTimeoutMs + SYNC_TIMEOUT_HEADROOM_MS;

/**
 * The daemon's state from its record and its lease. The lease is the proof
 * of life: its holder renews it apart from the long-poll, and it counts only
 * while its process exists. The record says what the holder is doing.
 */
export function daemonState(
  daemon: DaemonStatus | undefined,
  holder: LeaseHolder | undefined,
  now: number,
  syncTimeoutMs: number,
  deps: Pick<Deps, "processAlive" | "hostname">,
  /** Whether a live process holds the sync loop's life lock; undefined where none was ever taken. */
  lifeHeld?: boolean,
): DaemonState {
  // A record of this host whose process let go of its life lock, or is gone from /proc.
  const gone = (record: DaemonStatus) =>
    record.host === deps.hostname() && (lifeHeld === false || !deps.processAlive(record.pid));
  if (!holder) {
    if (!daemon || daemon.state === "stopped") return "stopped";
    // It never said goodbye: its process is gone, or too hung to renew its lease.
    return gone(daemon) ? "dead" : "stale";
  }
  // The lease outlives its holder by up to its TTL; the life lock does not.
  if (daemon?.pid === holder.pid && daemon.state !== "stopped" && gone(daemon)) return "dead";
  // A record of another pid is the previous daemon's: the holder has not written its own yet.
  if (!daemon || daemon.pid !== holder.pid || daemon.state === "booting") return "starting";
  if (daemon.state === "retrying") {
    return daemon.failure === "rate_limited" ? "rate_limited" : "unreachable";
  }
  if (daemon.state === "stopped") return "stopped";
  const sinceSync = daemon.lastSyncAt === null ? Infinity : now - daemon.lastSyncAt;
  return sinceSync < staleAfterMs(syncTimeoutMs) ? "running" : "stale";
}

/** Who am I, where, is my token still good, is the Space reachable, is the daemon alive. */
export async function status(ctx: OpContext): Promise<StatusResult> {
  await using session = await openSession(ctx);
  const { space, records, config } = session;
  // Synapse resolves aliases without looking at the token, so only whoami tells a revoked one.
  const [alias, whoami] = await Promise.allSettled([
    session.client.resolveAlias(space.aliases.space),
    session.client.whoami(),
  ]);
  let reachable = true;
  let spaceCheck: SpaceCheck = "ok";
  if (alias.status === "rejected") {
    const err = alias.reason;
    if (err instanceof NetworkError) [reachable, spaceCheck] = [false, "unreachable"];
    else if (hasStatus(err, 404)) spaceCheck = "missing";
    else if (err instanceof MatrixError) spaceCheck = "error";
    else throw err;
  }
  const tokenValid = whoami.status === "fulfilled" ||
    !(whoami.reason instanceof CchatError && whoami.reason.exitCode === ExitCode.auth);
  const daemon = await records.status();
  const holder = await records.syncLease(ctx.deps).holder();
  const now = ctx.deps.now();
  const lifeHeld = await lifeLockHeld(await lifeLockPath(config.dataDir, session.userId));
  const ownState = daemonState(daemon, holder, now, config.syncTimeoutMs, ctx.deps, lifeHeld);
  const alive = ALIVE.has(ownState);
  // The daemon may not have met the outage yet; this command just did.
  const state = !tokenValid ? "auth" : alive && !reachable ? "unreachable" : ownState;
  return {
    user_id: session.userId,
    homeserver: session.homeserver,
    homeserver_reachable: reachable,
    token_valid: tokenValid,
    space_alias: space.aliases.space,
    space: spaceCheck,
    state,
    daemon_state: ownState,
    lease: holder ?? null,
    // A record of another pid than the live holder's is its predecessor's: not this daemon's to show.
    daemon: daemon && (!holder || holder.pid === daemon.pid)
      ? { ...daemon, alive, last_sync_age_ms: daemon.lastSyncAt ? now - daemon.lastSyncAt : null }
      : null,
  };
}
