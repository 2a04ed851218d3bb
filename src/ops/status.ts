import { MatrixError, NetworkError } from "../errors.ts";
import { SYNC_TIMEOUT_HEADROOM_MS } from "../matrix/client.ts";
import type { DaemonStatus } from "../daemon/types.ts";
import { type OpContext, openSession } from "./session.ts";

/** How the Space answered: there, no such room, refused otherwise, or no answer at all. */
export type SpaceCheck = "ok" | "unreachable" | "missing" | "error";

export interface StatusResult {
  user_id: string;
  homeserver: string;
  homeserver_reachable: boolean;
  space_alias: string;
  space: SpaceCheck;
  daemon: (DaemonStatus & { alive: boolean; last_sync_age_ms: number | null }) | null;
}

/**
 * A daemon idles in /sync for one long-poll at a time and records each
 * return, so two long-polls and the request's headroom without a record
 * means it is stuck or gone.
 */
export const staleAfterMs = (syncTimeoutMs: number) => 2 * syncTimeoutMs + SYNC_TIMEOUT_HEADROOM_MS;

/** Who am I, where, is the Space reachable, is the daemon alive. */
export async function status(ctx: OpContext): Promise<StatusResult> {
  await using session = await openSession(ctx);
  const { space, store, config } = session;
  let reachable = true;
  let spaceCheck: SpaceCheck = "ok";
  try {
    await session.client.resolveAlias(space.aliases.space);
  } catch (err) {
    if (err instanceof NetworkError) [reachable, spaceCheck] = [false, "unreachable"];
    else if (err instanceof MatrixError && err.status === 404) spaceCheck = "missing";
    else if (err instanceof MatrixError) spaceCheck = "error";
    else throw err;
  }
  const daemon = await store.daemonStatus();
  const sinceSync = daemon?.lastSyncAt ? ctx.deps.now() - daemon.lastSyncAt : null;
  const alive = daemon !== undefined && daemon.state !== "stopped" && sinceSync !== null &&
    sinceSync < staleAfterMs(config.syncTimeoutMs);
  return {
    user_id: session.userId,
    homeserver: session.homeserver,
    homeserver_reachable: reachable,
    space_alias: space.aliases.space,
    space: spaceCheck,
    daemon: daemon ? { ...daemon, alive, last_sync_age_ms: sinceSync } : null,
  };
}
