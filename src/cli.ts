/**
 * The command line: the list of commands, and the one place where arguments
 * become a command's run. Each command file owns its flags, help and action;
 * the exit code goes back to main.ts, and so does any error.
 */
import {
  type Application,
  type ApplicationText,
  buildApplication,
  buildRouteMap,
  run,
  text_en,
  UnexpectedFlagError,
  UnexpectedPositionalError,
} from "@stricli/core";
import type { Deps } from "./deps.ts";
import { CchatError, ExitCode, UsageError } from "./errors.ts";
import { validateAgentName } from "./space/names.ts";
import { VERSION } from "./version.ts";
import { daemonCommand, heartbeatCommand } from "./commands/agent.ts";
import type { CliContext } from "./commands/common.ts";
import { completeCommand, completionsCommand } from "./commands/completions.ts";
import { demoCommand } from "./commands/demo.ts";
import { hookCommand } from "./commands/hook.ts";
import { ackCommand, inboxCommand, waitCommand } from "./commands/inbox.ts";
import { historyCommand } from "./commands/history.ts";
import { deliveryCommand } from "./commands/delivery.ts";
import { loginCommand, logoutCommand } from "./commands/login.ts";
import { mcpCommand } from "./commands/mcp.ts";
import { provisionCommand, revokeCommand } from "./commands/provision.ts";
import { replyCommand, sendCommand } from "./commands/send.ts";
import { statusCommand } from "./commands/status.ts";
import { whoCommand } from "./commands/who.ts";

export const PROGRAM = "cchat";

const STRAY = "Too many arguments";

/**
 * The parser's words, except that it never echoes a stray value: a password
 * typed on the command line must not end up in a terminal log as well.
 */
const text: ApplicationText = {
  ...text_en,
  exceptionWhileParsingArguments(exc, ansiColor) {
    if (exc instanceof UnexpectedPositionalError) {
      const most = exc.expectedCount;
      return `${STRAY}: the command takes ${most === 0 ? "none" : `at most ${most}`}`;
    }
    if (exc instanceof UnexpectedFlagError) return `--${exc.externalFlagName} is given twice`;
    return text_en.exceptionWhileParsingArguments.call(this, exc, ansiColor);
  },
};

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
      ack: ackCommand,
      wait: waitCommand,
      history: historyCommand,
      delivery: deliveryCommand,
      demo: demoCommand,
      mcp: mcpCommand,
      hook: hookCommand,
      provision: provisionCommand,
      revoke: revokeCommand,
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
    localization: { text },
  },
);

/** The flags whose value is an agent's name. */
const NAME_FLAGS = ["--name", "--to"];

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
  // "--name -x": the parser takes "-x" for a flag of its own, but it is a bad name: say so as one.
  const flagLike = args.find((arg, i) => NAME_FLAGS.includes(args[i - 1]) && arg.startsWith("-"));
  if (flagLike !== undefined) validateAgentName(flagLike);
  const first = complaint.trim().split("\n")[0];
  const message = /[.?!]$/.test(first) ? first : `${first}.`;
  const hint = args[0] === "login" && first.startsWith(STRAY)
    ? "login reads the password from CCHAT_PASSWORD or the first line of stdin, never from the command line."
    : `Run "${PROGRAM} --help" to see the commands, or "${PROGRAM} COMMAND --help".`;
  // Claude Code reads a hook's exit code 2 as "block": a hook's command line that is off must not.
  if (args[0] === "hook") throw new CchatError(message, { hint, exitCode: ExitCode.failure });
  throw new UsageError(message, { hint });
}
