import { Daemon } from "../daemon/daemon.ts";
import type { Deps } from "../deps.ts";
import type { Output } from "../output.ts";
import { validateAgentName } from "../space/names.ts";
import { VERSION } from "../version.ts";
import { openSession, requireName } from "./context.ts";

export interface DaemonCommandOptions {
  name?: string;
  ephemeral: boolean;
  interval?: string;
}

/** Runs the agent until SIGINT or SIGTERM, then says goodbye with an offline beat. */
export async function run(deps: Deps, out: Output, options: DaemonCommandOptions): Promise<number> {
  // A bad name fails before any file or request is touched.
  if (options.name !== undefined) validateAgentName(options.name);
  await using session = await openSession(deps, out, {
    name: options.name,
    heartbeatIntervalMs: options.interval,
  });
  const { config } = session;
  const stop = new AbortController();
  const unsubscribe = deps.onShutdown(() => {
    out.note("Stopping: sending the offline heartbeat.");
    stop.abort();
  });
  try {
    await new Daemon({
      client: session.client,
      spaces: session.spaces,
      store: session.store,
      identity: {
        userId: session.userId,
        name: requireName(config),
        host: deps.hostname(),
        version: VERSION,
        intervalMs: config.heartbeatIntervalMs,
      },
      syncTimeoutMs: config.syncTimeoutMs,
      ephemeral: options.ephemeral,
      allowedServers: config.allowedServers.length ? config.allowedServers : [session.serverName],
      deps,
      log: { info: (m) => out.note(m), warn: (m) => out.warn(m), debug: (m) => out.debug(m) },
      pid: deps.pid,
    }).run(stop.signal);
  } finally {
    unsubscribe();
  }
  return 0;
}
