import { buildCommand } from "@stricli/core";
import type { Deps } from "../deps.ts";
import { readStdin } from "../ops/input.ts";
import { type DeliveryWait, NotYetError, parseAwait } from "../ops/delivery.ts";
import { reply, send } from "../ops/send.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";

interface Flags {
  json: boolean;
  to?: string;
  notice: boolean;
  reply?: string;
  thread?: string;
  await?: DeliveryWait;
}

export const awaitFlag = {
  kind: "parsed",
  parse: parseAwait,
  brief: "wait until the message is read (or answered), at most SECONDS; exit 7 when not",
  optional: true,
  placeholder: "read[:SECONDS]",
} as const;

const noticeFlag = {
  kind: "boolean",
  brief: "send as m.notice, which agents never answer automatically",
  default: false,
  withNegated: false,
} as const;

export const sendCommand = buildCommand<Flags, [string], CliContext>({
  func: action(async ({ deps, out }, flags: Flags, text: string) => {
    const body = await bodyOf(text, deps);
    try {
      const sent = await send({ deps, log: out }, { ...flags, body });
      return { data: sent, text: sent.state ? `${sent.event_id} ${sent.state}` : sent.event_id };
    } catch (err) {
      // Sent, but not yet as far as asked: the id is still the caller's to follow.
      if (!(err instanceof NotYetError)) throw err;
      const { event_id, state } = err.result;
      return {
        data: err.result,
        text: `${event_id} ${state}`,
        note: err.message,
        code: err.exitCode,
      };
    }
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
      notice: noticeFlag,
      reply: {
        kind: "parsed",
        parse: String,
        brief: "reply to this message (its id from the inbox, or an event id), in its room",
        optional: true,
        placeholder: "ID",
      },
      thread: {
        kind: "parsed",
        parse: String,
        brief: "post in the thread of this message (its id, or an event id), in its room",
        optional: true,
        placeholder: "ID",
      },
      await: awaitFlag,
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
      "Posts TEXT to the lobby, or with --to to that agent's room, and prints the event id. " +
      "Without --to, --reply and --thread post in the room of the message they name, found in " +
      "the inbox by the id inbox and wait show or by its event id; with --to, give event ids.",
  },
});

interface ReplyFlags {
  json: boolean;
  notice: boolean;
}

export const replyCommand = buildCommand<ReplyFlags, [string, string], CliContext>({
  func: action(async ({ deps, out }, flags: ReplyFlags, id: string, text: string) => {
    const body = await bodyOf(text, deps);
    const sent = await reply({ deps, log: out }, { id, text: body, notice: flags.notice });
    return { data: sent, text: sent.event_id };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      notice: noticeFlag,
    },
    positional: {
      kind: "tuple",
      parameters: [
        {
          brief: "the message to answer: the id inbox and wait show, or its event id",
          parse: String,
          placeholder: "ID",
        },
        {
          brief: 'the answer, or "-" to read it from standard input',
          parse: String,
          placeholder: "TEXT",
        },
      ],
    },
  },
  docs: {
    brief: "Answer a message of the inbox in its room, as a reply",
    fullDescription:
      "Posts TEXT as a reply to the message ID in the room it came from, inside its thread " +
      "when it was in one, and prints the event id. ID is the number inbox and wait show, or " +
      "the event id; a message no longer in the inbox is refused.",
  },
});

/** "-" reads standard input, without the one trailing newline a shell pipe adds. */
async function bodyOf(text: string, deps: Deps): Promise<string> {
  return text === "-" ? (await readStdin(deps)).replace(/\r?\n$/, "") : text;
}
