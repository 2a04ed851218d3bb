import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, optional, withDefault } from "@optique/core/modifiers";
import { argument, command, flag, option } from "@optique/core/primitives";
import { string } from "@optique/core/valueparser";
import type { Deps } from "../deps.ts";
import { readStdin } from "../ops/input.ts";
import { send } from "../ops/send.ts";
import { action, jsonFlag } from "./common.ts";

export const sendCommand = command(
  "send",
  map(
    object({
      json: jsonFlag,
      to: optional(option("--to", string({ metavar: "NAME" }), {
        description: message`the agent whose room receives it (else the lobby)`,
      })),
      notice: withDefault(
        flag("--notice", {
          description: message`send as m.notice, which agents never answer automatically`,
        }),
        false,
      ),
      reply: optional(option("--reply", string({ metavar: "EVENT_ID" }), {
        description: message`reply to this event`,
      })),
      thread: optional(option("--thread", string({ metavar: "EVENT_ID" }), {
        description: message`post in the thread rooted at this event`,
      })),
      text: argument(string({ metavar: "TEXT" }), {
        description: message`the message, or "-" to read it from standard input`,
      }),
    }),
    action(async (options, out, deps) => {
      const body = await bodyOf(options.text, deps);
      const sent = await send({ deps, log: out }, { ...options, body });
      if (out.json) out.data(sent);
      else out.line(sent.event_id);
      return 0;
    }),
  ),
  {
    brief: message`Post a message to the lobby, or to an agent's room`,
    description: message`Post TEXT to the lobby, or with --to to that agent's room; prints the event id.`,
  },
);

/** "-" reads standard input, without the one trailing newline a shell pipe adds. */
async function bodyOf(text: string, deps: Deps): Promise<string> {
  return text === "-" ? (await readStdin(deps)).replace(/\r?\n$/, "") : text;
}
