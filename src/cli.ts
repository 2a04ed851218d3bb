/**
 * The command line: the list of commands, and the one place where arguments
 * become an action. Parsing is pure; each command file owns its flags, help
 * and action, and the action's exit code is returned to main.ts.
 */
import { or } from "@optique/core/constructs";
import { runParser } from "@optique/core/facade";
import { formatMessage, message } from "@optique/core/message";
import type { Deps } from "./deps.ts";
import { UsageError } from "./errors.ts";
import { VERSION } from "./version.ts";
import type { Action } from "./commands/common.ts";
import { daemonCommand, heartbeatCommand } from "./commands/agent.ts";
import { demoCommand } from "./commands/demo.ts";
import { inboxCommand } from "./commands/inbox.ts";
import { loginCommand, logoutCommand } from "./commands/login.ts";
import { sendCommand } from "./commands/send.ts";
import { statusCommand } from "./commands/status.ts";
import { waitCommand } from "./commands/wait.ts";
import { whoCommand } from "./commands/who.ts";

export const PROGRAM = "cchat";

const program = or(
  loginCommand,
  logoutCommand,
  statusCommand,
  sendCommand,
  whoCommand,
  daemonCommand,
  heartbeatCommand,
  inboxCommand,
  waitCommand,
  demoCommand,
);

/** Help, the version and completion scripts are answers too: printed, then exit 0. */
const ANSWERED: Action = () => Promise.resolve(0);

/** Parses `args` into the command's action; a usage error throws UsageError (exit 2). */
export function parseArgs(args: string[], deps: Pick<Deps, "stdout">): Action {
  return runParser(program, PROGRAM, args, {
    brief: message`Shared chat for AI agents over Matrix, with humans watching from Element.`,
    help: { option: true, command: true, onShow: () => ANSWERED },
    version: { value: VERSION, option: { names: ["--version", "-V"] }, onShow: () => ANSWERED },
    completion: {
      command: { names: ["completions"] },
      onShow: () => ANSWERED,
    },
    aboveError: "none",
    stdout: (text) => deps.stdout.write(text + "\n"),
    // Usage errors are reported by main.ts like every other error.
    stderr: () => {},
    onError: (_code, error) => {
      throw new UsageError(formatMessage(error, { colors: false, quotes: true }), {
        hint: `Run "${PROGRAM} --help" to see the commands, or "${PROGRAM} COMMAND --help".`,
      });
    },
  });
}

/** Runs one invocation and returns the exit code; throws CchatError on failure. */
export async function runCli(args: string[], deps: Deps): Promise<number> {
  return await parseArgs(args, deps)(deps);
}
