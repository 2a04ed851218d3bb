import { buildCommand } from "@stricli/core";
import { ExitCode, FAILURE_EXIT_CODES } from "../errors.ts";
import { status, type StatusResult, type StatusState } from "../ops/status.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { formatAge } from "./text.ts";
import { visible } from "../visible.ts";

interface Flags {
  json: boolean;
}

/** The exit code of each answer: 0 while a daemon lives and works, else what is wrong. */
export const STATUS_EXIT_CODES: Record<StatusState, ExitCode> = {
  running: ExitCode.ok,
  starting: ExitCode.ok,
  unreachable: FAILURE_EXIT_CODES.unreachable,
  rate_limited: FAILURE_EXIT_CODES.rate_limited,
  auth: FAILURE_EXIT_CODES.auth,
  stopped: ExitCode.stale,
  stale: ExitCode.stale,
  dead: ExitCode.stale,
};

export const statusCommand = buildCommand<Flags, [], CliContext>({
  func: action(async ({ deps, out }) => {
    const report = await status({ deps, log: out });
    return { data: report, text: statusText(report), code: STATUS_EXIT_CODES[report.state] };
  }),
  parameters: { flags: { json: jsonFlag } },
  docs: {
    brief: "Who am I, which homeserver, is the daemon alive",
    fullDescription:
      "Who am I, which homeserver, is the Space reachable, is the daemon alive. Exits 0 while the daemon runs or starts, 4 when the token is refused, 5 when the homeserver is unreachable (the daemon retrying), 6 while the daemon waits out a rate limit, 8 when the daemon is stopped, stale or dead.",
  },
});

export function statusText(report: StatusResult): string {
  const homeserver = !report.token_valid
    ? " (token refused)"
    : report.homeserver_reachable
    ? ""
    : " (unreachable)";
  const space = report.space === "ok" ? "reachable" : report.space;
  return [
    `user        ${report.user_id}`,
    `homeserver  ${report.homeserver}${homeserver}`,
    `space       ${report.space_alias} (${space})`,
    `daemon      ${daemonText(report)}`,
    // Room and user ids come from the homeserver: shown as they are, every character visible.
    ...(report.daemon?.warnings ?? []).map((warning) => `warning     ${visible(warning)}`),
  ].join("\n");
}

function daemonText({ daemon_state: state, daemon, lease }: StatusResult): string {
  const lastSync = formatAge(daemon?.last_sync_age_ms ?? null);
  const error = daemon?.lastError ? `, last error: ${daemon.lastError}` : "";
  switch (state) {
    case "stopped":
      return daemon?.failure
        ? `not running: it stopped on an error: ${daemon.lastError}`
        : "not running";
    case "dead":
      return `dead: pid ${daemon?.pid} is gone without a clean stop, last sync ${lastSync}`;
    case "stale":
      return `stale: last sync ${lastSync}${error}`;
  }
  const who = daemon && daemon.pid === lease?.pid
    ? `as "${daemon.name}" (pid ${daemon.pid})`
    : `(pid ${lease?.pid})`;
  switch (state) {
    case "starting":
      return `starting ${who}${error}`;
    case "unreachable":
      return `retrying ${who}: the homeserver is unreachable, last sync ${lastSync}${error}`;
    case "rate_limited":
      return `retrying ${who}: rate limited, last sync ${lastSync}${error}`;
    case "running":
      return `running ${who}, last sync ${lastSync}`;
  }
}
