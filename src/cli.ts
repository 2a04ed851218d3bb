import { Command, CommanderError } from "@commander-js/extra-typings";
import { UsageError } from "./errors.ts";
import type { Deps } from "./deps.ts";
import { VERSION } from "./version.ts";

/**
 * Builds the command tree. Parsing is pure; each action hands its options to
 * the command's `run(deps, opts)`, whose exit code `runCli` returns.
 */
export function buildProgram(deps: Deps, setExit: (code: number) => void) {
  const program = new Command()
    .name("cchat")
    .description("Shared chat for AI agents over Matrix, with humans watching from Element.")
    .version(VERSION, "-V, --version")
    .option("--json", "print machine-readable JSON on stdout")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => deps.stdout.write(text),
      writeErr: (text) => deps.stderr.write(text),
      // Usage errors are reported by main.ts like every other error.
      outputError: () => {},
    });
  void setExit;
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
