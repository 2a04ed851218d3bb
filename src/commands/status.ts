import type { Deps } from "../deps.ts";
import { ExitCode, MatrixError, NetworkError } from "../errors.ts";
import type { Output } from "../output.ts";
import { openSession } from "./context.ts";
import { formatAge } from "./agents_view.ts";

/**
 * A daemon idles in /sync for one long-poll at a time and records each
 * return, so two long-polls and some slack without a record means it is stuck
 * or gone.
 */
export const staleAfterMs = (syncTimeoutMs: number) => 2 * syncTimeoutMs + 15_000;

type Check = "ok" | "unreachable" | "missing" | "error";

/** Who am I, where, is the Space reachable, is the daemon alive. Exits 8 when the daemon is stale. */
export async function run(deps: Deps, out: Output): Promise<number> {
  await using session = await openSession(deps, out, {});
  const { spaces, store, config } = session;
  let homeserver: Check = "ok";
  let space: Check = "ok";
  try {
    await session.client.resolveAlias(spaces.aliases.space);
  } catch (err) {
    if (err instanceof NetworkError) homeserver = space = "unreachable";
    else if (err instanceof MatrixError && err.status === 404) space = "missing";
    else if (err instanceof MatrixError) space = "error";
    else throw err;
  }
  const daemon = await store.daemonStatus();
  const now = deps.now();
  const sinceSync = daemon?.lastSyncAt ? now - daemon.lastSyncAt : null;
  const alive = daemon !== undefined && daemon.state !== "stopped" && sinceSync !== null &&
    sinceSync < staleAfterMs(config.syncTimeoutMs);
  const daemonText = !daemon || daemon.state === "stopped"
    ? "not running"
    : alive
    ? `${daemon.state} as "${daemon.name}" (pid ${daemon.pid}), last sync ${formatAge(sinceSync)}`
    : `stale: last sync ${formatAge(sinceSync)}${
      daemon.lastError ? `, last error: ${daemon.lastError}` : ""
    }`;

  if (out.json) {
    out.data({
      user_id: session.userId,
      homeserver: session.homeserver,
      homeserver_reachable: homeserver === "ok",
      space_alias: spaces.aliases.space,
      space,
      daemon: daemon ? { ...daemon, alive, last_sync_age_ms: sinceSync } : null,
    });
  } else {
    out.line(`user        ${session.userId}`);
    out.line(`homeserver  ${session.homeserver}${homeserver === "ok" ? "" : " (unreachable)"}`);
    out.line(`space       ${spaces.aliases.space} (${space === "ok" ? "reachable" : space})`);
    out.line(`daemon      ${daemonText}`);
  }
  if (!alive) return ExitCode.stale;
  return homeserver === "ok" ? ExitCode.ok : ExitCode.unreachable;
}
