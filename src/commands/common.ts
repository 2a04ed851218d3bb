/** What the command files share: the shape of an action, and the flags several commands take. */
import { message } from "@optique/core/message";
import { optional, withDefault } from "@optique/core/modifiers";
import { flag, option } from "@optique/core/primitives";
import { string } from "@optique/core/valueparser";
import type { Deps } from "../deps.ts";
import { type Output, outputFor } from "../output.ts";

/** A parsed command, ready to run; resolves to the exit code. */
export type Action = (deps: Deps) => Promise<number>;

export const jsonFlag = withDefault(
  flag("--json", { description: message`print one JSON document on stdout` }),
  false,
);

export const nameOption = optional(
  option("--name", string({ metavar: "NAME" }), {
    description: message`this agent's name (else CCHAT_NAME or the config file)`,
  }),
);

/** Runs `body` with the output the command's --json asks for, and its deps as an operation context. */
export function action<T extends { json: boolean }>(
  body: (options: T, out: Output, deps: Deps) => Promise<number>,
): (options: T) => Action {
  return (options) => (deps) => body(options, outputFor(deps, options.json), deps);
}
