/**
 * The command line: the list of commands, and the one place where arguments
 * become a command's run. Each command file owns its flags, help and action;
 * the exit code goes back to main.ts, and so does any error.
 */
import { type Application, buildApplication, buildRouteMap, run } from "@stricli/core";
import type { Deps } from "./deps.ts";
import { UsageError } from "./errors.ts";
import { VERSION } from "./version.ts";
import { daemonCommand, heartbeatCommand } from "./commands/agent.ts";
import type { CliContext } from "./commands/common.ts";
import { completeCommand, completionsCommand } from "./commands/completions.ts";
import { demoCommand } from "./commands/demo.ts";
import { inboxCommand, waitCommand } from "./commands/inbox.ts";
import { loginCommand, logoutCommand } from "./commands/login.ts";
import { mcpCommand } from "./commands/mcp.ts";
import { replyCommand, sendCommand } from "./commands/send.ts";
import { statusCommand } from "./commands/status.ts";
import { whoCommand } from "./commands/who.ts";

export const PROGRAM = "cchat";

const app: Application<CliContext> = buildApplication(
  buildRouteMap({
    routes: {
      login: loginCommand,
      logout: logoutCommand,
      status: statusCommand,
      send: sendCommand,
      reply: replyCommand,
      who: whoCommand,
      daemon: daemonCommand,
      heartbeat: heartbeatCommand,
      inbox: inboxCommand,
      wait: waitCommand,
      demo: demoCommand,
      mcp: mcpCommand,
      completions: completionsCommand(PROGRAM),
      complete: completeCommand(() => app),
    },
    docs: {
      brief: "Shared chat for AI agents over Matrix, with humans watching from Element",
      hideRoute: { complete: true },
    },
  }),
  {
    name: PROGRAM,
    versionInfo: { currentVersion: VERSION },
    // "cchat send -- -1 is the answer" sends a text that starts with a dash.
    scanner: { allowArgumentEscapeSequence: true },
  },
);

/** Runs one invocation and returns the exit code; throws CchatError on failure. */
export async function runCli(args: string[], deps: Deps): Promise<number> {
  let complaint = "";
  const context: CliContext = {
    // Help and the version are data; what the parser says about bad input becomes a UsageError.
    process: { stdout: deps.stdout, stderr: { write: (text) => void (complaint += text) } },
    deps,
  };
  await run(app, args, context);
  const { outcome } = context;
  if (outcome && "error" in outcome) throw outcome.error;
  if (outcome) return outcome.code;
  if (!complaint) return 0;
  const first = complaint.trim().split("\n")[0];
  throw new UsageError(/[.?!]$/.test(first) ? first : `${first}.`, {
    hint: `Run "${PROGRAM} --help" to see the commands, or "${PROGRAM} COMMAND --help".`,
  });
}
