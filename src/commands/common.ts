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

export const homeserverFlag = {
  kind: "parsed",
  parse: String,
  brief: "the homeserver's base URL",
  placeholder: "URL",
} as const;

export const nameFlag = {
  kind: "parsed",
  parse: String,
  brief: "this agent's name (else CCHAT_NAME or the config file)",
  optional: true,
  placeholder: "NAME",
} as const;

/** What a command hands back: its data, and how it looks to people. */
export interface Reply {
  /** The JSON document --json prints; nothing is printed when absent. */
  data?: unknown;
  /** The same data for people; nothing is printed when absent. */
  text?: string;
  /** Said on stderr whatever the format, like every diagnostic. */
  note?: string;
  /** The exit code; 0 when absent. */
  code?: number;
  /**
   * Told whether the output reached stdout: messages taken from the inbox are
   * read only once shown, and unread again when the output could not be written.
   */
  settle?: (delivered: boolean) => Promise<void>;
}

/** Where a command runs: the outside world, and the output for its progress and its logs. */
export interface Run {
  deps: Deps;
  out: Output;
}

/**
 * The function the parser calls: runs `body`, renders its reply as JSON or
 * text in this one place, and records how it ended.
 */
export function action<F extends object, A extends unknown[]>(
  body: (run: Run, flags: F, ...args: A) => Promise<Reply>,
) {
  return async function (this: CliContext, flags: F, ...args: A): Promise<void> {
    try {
      const out = outputFor(this.deps, (flags as { json?: boolean }).json === true);
      const reply = await body({ deps: this.deps, out }, flags, ...args);
      try {
        if (out.json && reply.data !== undefined) out.data(reply.data);
        if (!out.json && reply.text !== undefined) out.line(reply.text);
      } catch (error) {
        await reply.settle?.(false);
        throw error;
      }
      await reply.settle?.(true);
      if (reply.note !== undefined) out.info(reply.note);
      this.outcome = { code: reply.code ?? 0 };
    } catch (error) {
      this.outcome = { error };
    }
  };
}
