import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map } from "@optique/core/modifiers";
import { command } from "@optique/core/primitives";
import { ExitCode } from "../errors.ts";
import { status, type StatusResult } from "../ops/status.ts";
import { action, jsonFlag } from "./common.ts";
import { formatAge } from "./text.ts";

export const statusCommand = command(
  "status",
  map(
    object({ json: jsonFlag }),
    action(async (_options, out, deps) => {
      const report = await status({ deps, log: out });
      if (out.json) out.data(report);
      else {
        out.line(`user        ${report.user_id}`);
        out.line(
          `homeserver  ${report.homeserver}${report.homeserver_reachable ? "" : " (unreachable)"}`,
        );
        out.line(
          `space       ${report.space_alias} (${
            report.space === "ok" ? "reachable" : report.space
          })`,
        );
        out.line(`daemon      ${daemonText(report.daemon)}`);
      }
      if (!report.daemon?.alive) return ExitCode.stale;
      return report.homeserver_reachable ? ExitCode.ok : ExitCode.unreachable;
    }),
  ),
  {
    brief: message`Who am I, which homeserver, is the daemon alive`,
    description:
      message`Who am I, which homeserver, is the Space reachable, is the daemon alive. Exits 8 when the daemon is stale or stopped, 5 when the homeserver is unreachable.`,
  },
);

function daemonText(daemon: StatusResult["daemon"]): string {
  if (!daemon || daemon.state === "stopped") return "not running";
  const lastSync = formatAge(daemon.last_sync_age_ms);
  if (daemon.alive) {
    return `${daemon.state} as "${daemon.name}" (pid ${daemon.pid}), last sync ${lastSync}`;
  }
  return `stale: last sync ${lastSync}${
    daemon.lastError ? `, last error: ${daemon.lastError}` : ""
  }`;
}
