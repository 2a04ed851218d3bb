import { buildCommand } from "@stricli/core";
import { ExitCode } from "../errors.ts";
import { status, type StatusResult } from "../ops/status.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { formatAge } from "./text.ts";

interface Flags {
  json: boolean;
}

export const statusCommand = buildCommand<Flags, [], CliContext>({
  func: action(async ({ deps, out }) => {
    const report = await status({ deps, log: out });
    const code = !report.daemon?.alive
      ? ExitCode.stale
      : report.homeserver_reachable
      ? ExitCode.ok
      : ExitCode.unreachable;
    return { data: report, text: statusText(report), code };
  }),
  parameters: { flags: { json: jsonFlag } },
  docs: {
    brief: "Who am I, which homeserver, is the daemon alive",
    fullDescription:
      "Who am I, which homeserver, is the Space reachable, is the daemon alive. Exits 8 when the daemon is stale or stopped, 5 when the homeserver is unreachable.",
  },
});

function statusText(report: StatusResult): string {
  const reachable = report.homeserver_reachable ? "" : " (unreachable)";
  const space = report.space === "ok" ? "reachable" : report.space;
  return [
    `user        ${report.user_id}`,
    `homeserver  ${report.homeserver}${reachable}`,
    `space       ${report.space_alias} (${space})`,
    `daemon      ${daemonText(report.daemon)}`,
  ].join("\n");
}

function daemonText(daemon: StatusResult["daemon"]): string {
  if (!daemon || daemon.state === "stopped") return "not running";
  const lastSync = formatAge(daemon.last_sync_age_ms);
  if (daemon.alive) {
    return `${daemon.state} as "${daemon.name}" (pid ${daemon.pid}), last sync ${lastSync}`;
  }
  const error = daemon.lastError ? `, last error: ${daemon.lastError}` : "";
  return `stale: last sync ${lastSync}${error}`;
}
