import { Command, CommanderError } from "@commander-js/extra-typings";
import { UsageError } from "./errors.ts";
import type { Deps } from "./deps.ts";
import { Output, useColor } from "./output.ts";
import { VERSION } from "./version.ts";
import * as demo from "./commands/demo.ts";

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

  program.command("demo")
    .description("Tour cchat on a homeserver that allows shared-secret registration")
    .requiredOption("--homeserver <url>", "the homeserver's base URL")
    .option("--prefix <prefix>", "alias prefix of the Space and rooms")
    .action(async (opts, command) => {
      const out = outputFor(deps, command.optsWithGlobals().json === true);
      setExit(
        await demo.run(deps, out, {
          homeserver: opts.homeserver,
          registrationSecret: deps.env("CCHAT_REGISTRATION_SECRET") ?? "",
          prefix: opts.prefix,
        }),
      );
    });
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
