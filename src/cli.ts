import { Command, CommanderError } from "@commander-js/extra-typings";
import { UsageError } from "./errors.ts";
import type { Deps } from "./deps.ts";
import { Output, useColor } from "./output.ts";
import { VERSION } from "./version.ts";
import * as daemon from "./commands/daemon.ts";
import * as demo from "./commands/demo.ts";
import * as heartbeat from "./commands/heartbeat.ts";
import * as inbox from "./commands/inbox.ts";
import * as login from "./commands/login.ts";
import * as logout from "./commands/logout.ts";
import * as send from "./commands/send.ts";
import * as status from "./commands/status.ts";
import * as wait from "./commands/wait.ts";
import * as who from "./commands/who.ts";

/** The output every command writes through, shaped by --json, NO_COLOR and CCHAT_DEBUG. */
export function outputFor(deps: Deps, json: boolean): Output {
  return new Output(deps, {
    json,
    color: useColor(deps.env, deps.stderrIsTerminal),
    debug: deps.env("CCHAT_DEBUG") === "1",
  });
}

/**
 * Builds the command tree. Parsing is pure; each action hands its options to
 * the command's `run`, and the exit code it returns goes to `setExit`.
 */
export function buildProgram(deps: Deps, setExit: (code: number) => void) {
  const program = new Command()
    .name("cchat")
    .description("Shared chat for AI agents over Matrix, with humans watching from Element.")
    .version(VERSION, "-V, --version")
    .option("--json", "print machine-readable JSON on stdout")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => deps.stdout.write(text),
      writeErr: (text) => deps.stderr.write(text),
      // Usage errors are reported by main.ts like every other error.
      outputError: () => {},
    });

  const out = (command: { optsWithGlobals(): { json?: boolean } }) =>
    outputFor(deps, command.optsWithGlobals().json === true);

  program.command("login")
    .description(
      "Log in once and store the token (mode 0600); the password comes from CCHAT_PASSWORD or stdin",
    )
    .option("--homeserver <url>", "the homeserver's base URL")
    .option("--user <name>", "the user name or Matrix id")
    .option("--token", "store an existing access token from CCHAT_ACCESS_TOKEN or stdin instead")
    .option("--force", "log in again even when a login is stored")
    .action(async (opts, command) =>
      setExit(
        await login.run(deps, out(command), {
          ...opts,
          token: opts.token === true,
          force: opts.force === true,
        }),
      )
    );

  program.command("logout")
    .description("End the session on the server and forget the stored token")
    .action(async (_opts, command) => setExit(await logout.run(deps, out(command))));

  program.command("status")
    .description(
      "Who am I, which homeserver, is the Space reachable, is the daemon alive (exit 8 when stale)",
    )
    .action(async (_opts, command) => setExit(await status.run(deps, out(command))));

  program.command("send")
    .description('Post TEXT ("-" reads stdin) to the lobby, or to an agent\'s room with --to')
    .argument("<text>", 'the message, or "-" for standard input')
    .option("--to <name>", "the agent whose room receives it")
    .option("--notice", "send as m.notice, which agents never answer automatically")
    .option("--reply <event_id>", "reply to this event")
    .option("--thread <event_id>", "post in the thread rooted at this event")
    .action(async (text, opts, command) =>
      setExit(await send.run(deps, out(command), { ...opts, text, notice: opts.notice === true }))
    );

  program.command("who")
    .description("List the agents and whether each is online")
    .option("--all", "include agents silent for more than a day")
    .action(async (opts, command) =>
      setExit(await who.run(deps, out(command), { all: opts.all === true }))
    );

  program.command("daemon")
    .description(
      "Run the agent: keep the inbox filled and the heartbeat beating until SIGINT/SIGTERM",
    )
    .option("--name <name>", "this agent's name")
    .option("--ephemeral", "wait a random 0-2 s before booting, for fleets that start at once")
    .option("--interval <seconds>", "seconds between heartbeats")
    .action(async (opts, command) =>
      setExit(await daemon.run(deps, out(command), { ...opts, ephemeral: opts.ephemeral === true }))
    );

  program.command("heartbeat")
    .description("Beat once and exit, for cron")
    .option("--name <name>", "this agent's name")
    .option("--offline", "say goodbye instead")
    .action(async (opts, command) =>
      setExit(await heartbeat.run(deps, out(command), { ...opts, offline: opts.offline === true }))
    );

  program.command("inbox")
    .description("Print unread messages, oldest first, and mark them read")
    .option("--peek", "leave them unread")
    .option("--limit <n>", "at most this many")
    .action(async (opts, command) =>
      setExit(await inbox.run(deps, out(command), { ...opts, peek: opts.peek === true }))
    );

  program.command("wait")
    .description("Block until a message arrives, print it and exit 0; exit 7 on timeout")
    .option("--timeout <seconds>", "give up after this long")
    .action(async (opts, command) => setExit(await wait.run(deps, out(command), opts)));

  program.command("demo")
    .description("Tour cchat on a homeserver that allows shared-secret registration")
    .requiredOption("--homeserver <url>", "the homeserver's base URL")
    .option("--prefix <prefix>", "alias prefix of the Space and rooms")
    .action(async (opts, command) =>
      setExit(
        await demo.run(deps, out(command), {
          homeserver: opts.homeserver,
          registrationSecret: deps.env("CCHAT_REGISTRATION_SECRET") ?? "",
          prefix: opts.prefix,
        }),
      )
    );
  return program;
}

/** Runs one invocation and returns the exit code; throws CchatError on failure. */
export async function runCli(args: string[], deps: Deps): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(deps, (code) => exitCode = code);
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return 0;
    throw new UsageError(
      err.message.replace(/^error: /, "").replace(/^./, (c) => c.toUpperCase()),
      {
        hint: 'Run "cchat --help" to see the commands and their options.',
      },
    );
  }
  return exitCode;
}
