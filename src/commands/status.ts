import { buildCommand } from "@stricli/core";
import { ExitCode } from "../errors.ts";
import { status, type StatusResult } from "../ops/status.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { formatAge } from "./text.ts";

interface Flags {
  json: boolean;
}

export const statusCommand = buildCommand<Flags, [], CliContext>({
  func: action(async (out, deps) => {
    const report = await status({ deps, log: out });
    if (out.json) out.data(report);
    else {
      const reachable = report.homeserver_reachable ? "" : " (unreachable)";
      const space = report.space === "ok" ? "reachable" : report.space;
      out.line(`user        ${report.user_id}`);
      out.line(`homeserver  ${report.homeserver}${reachable}`);
      out.line(`space       ${report.space_alias} (${space})`);
      out.line(`daemon      ${daemonText(report.daemon)}`);
    }
    if (!report.daemon?.alive) return ExitCode.stale;
    return report.homeserver_reachable ? ExitCode.ok : ExitCode.unreachable;
  }),
  parameters: { flags: { json: jsonFlag } },
  docs: {
    brief: "Who am I, which homeserver, is the daemon alive",
    fullDescription:
      "Who am I, which homeserver, is the Space reachable, is the daemon alive. Exits 8 when the daemon is stale or stopped, 5 when the homeserver is unreachable.",
  },
});

function daemonText(daemon: StatusResult["daemon"]): string {
  if (!daemon || daemon.state === "stopped") return "not running";
  const lastSync = formatAge(daemon.last_sync_age_ms);
  if (daemon.alive) {
    return `${daemon.state} as "${daemon.name}" (pid ${daemon.pid}), last sync ${lastSync}`;
  }
  const error = daemon.lastError ? `, last error: ${daemon.lastError}` : "";
  return `stale: last sync ${lastSync}${error}`;
}
