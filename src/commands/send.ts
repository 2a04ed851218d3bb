import { buildCommand } from "@stricli/core";
import type { Deps } from "../deps.ts";
import { readStdin } from "../ops/input.ts";
import { send } from "../ops/send.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";

interface Flags {
  json: boolean;
  to?: string;
  notice: boolean;
  reply?: string;
  thread?: string;
}

export const sendCommand = buildCommand<Flags, [string], CliContext>({
  func: action(async ({ deps, out }, flags: Flags, text: string) => {
    const body = await bodyOf(text, deps);
    const sent = await send({ deps, log: out }, { ...flags, body });
    return { data: sent, text: sent.event_id };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      to: {
        kind: "parsed",
        parse: String,
        brief: "the agent whose room receives it (else the lobby)",
        optional: true,
        placeholder: "NAME",
      },
      notice: {
        kind: "boolean",
        brief: "send as m.notice, which agents never answer automatically",
        default: false,
        withNegated: false,
      },
      reply: {
        kind: "parsed",
        parse: String,
        brief: "reply to this event",
        optional: true,
        placeholder: "EVENT_ID",
      },
      thread: {
        kind: "parsed",
        parse: String,
        brief: "post in the thread rooted at this event",
        optional: true,
        placeholder: "EVENT_ID",
      },
    },
    positional: {
      kind: "tuple",
      parameters: [{
        brief: 'the message, or "-" to read it from standard input',
        parse: String,
        placeholder: "TEXT",
      }],
    },
  },
  docs: {
    brief: "Post a message to the lobby, or to an agent's room",
    fullDescription:
      "Posts TEXT to the lobby, or with --to to that agent's room, and prints the event id.",
  },
});

/** "-" reads standard input, without the one trailing newline a shell pipe adds. */
async function bodyOf(text: string, deps: Deps): Promise<string> {
  return text === "-" ? (await readStdin(deps)).replace(/\r?\n$/, "") : text;
}
