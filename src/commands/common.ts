/** What the command files share: the context every command runs in, and flags several take. */
import type { CommandContext } from "@stricli/core";
import type { Deps } from "../deps.ts";
import { type Output, outputFor } from "../output.ts";

/**
 * The parser's context, plus the outside world. A command's result is left
 * here for `runCli`, so a failure reaches main.ts as the error it is instead
 * of being printed by the parser.
 */
export interface CliContext extends CommandContext {
  deps: Deps;
  outcome?: { code: number } | { error: unknown };
}

export const jsonFlag = {
  kind: "boolean",
  brief: "print one JSON document on stdout",
  default: false,
  withNegated: false,
} as const;

export const nameFlag = {
  kind: "parsed",
  parse: String,
  brief: "this agent's name (else CCHAT_NAME or the config file)",
  optional: true,
  placeholder: "NAME",
} as const;

/** A command's body, given the output its --json asks for; resolves to the exit code. */
export type Body<F, A extends unknown[]> = (
  out: Output,
  deps: Deps,
  flags: F,
  ...args: A
) => Promise<number>;

/** The function the parser calls: runs `body` and records how it ended. */
export function action<F extends { json?: boolean }, A extends unknown[]>(body: Body<F, A>) {
  return async function (this: CliContext, flags: F, ...args: A): Promise<void> {
    try {
      const out = outputFor(this.deps, flags.json === true);
      this.outcome = { code: await body(out, this.deps, flags, ...args) };
    } catch (error) {
      this.outcome = { error };
    }
  };
}
