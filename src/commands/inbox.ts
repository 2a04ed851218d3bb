import { buildCommand, numberParser } from "@stricli/core";
import { ExitCode } from "../errors.ts";
import { ack, inbox, wait } from "../ops/inbox.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { formatMessage } from "./text.ts";

interface InboxFlags {
  json: boolean;
  peek: boolean;
  limit?: number;
}

export const inboxCommand = buildCommand<InboxFlags, [], CliContext>({
  func: action(async ({ deps, out }, flags: InboxFlags) => {
    const { value: messages, settle } = await inbox({ deps, log: out }, flags);
    if (messages.length === 0) return { data: messages, note: "No unread messages.", settle };
    return { data: messages, text: messages.map(formatMessage).join("\n"), settle };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      peek: { kind: "boolean", brief: "leave them unread", default: false, withNegated: false },
      limit: {
        kind: "parsed",
        parse: numberParser,
        brief: "at most this many",
        optional: true,
        placeholder: "N",
      },
    },
  },
  docs: {
    brief: "Print unread messages, oldest first, and mark them read (--peek: leave them unread)",
  },
});

interface AckFlags {
  json: boolean;
}

export const ackCommand = buildCommand<AckFlags, string[], CliContext>({
  func: action(async ({ deps, out }, _flags: AckFlags, ...ids: string[]) => {
    const result = await ack({ deps, log: out }, { ids });
    const shown = (eventIds: string[]) => eventIds.map((id) => `"${id}"`).join(", ");
    const lines = [
      ...result.acknowledged.map((m) => `read: ${m.id === null ? "" : `#${m.id} `}"${m.event_id}"`),
      ...(result.already_read.length ? [`already read: ${shown(result.already_read)}`] : []),
    ];
    return { data: result, text: lines.join("\n") };
  }),
  parameters: {
    positional: {
      kind: "array",
      parameter: {
        brief: "message ids, as inbox --peek shows them",
        parse: String,
        placeholder: "ID",
      },
    },
    flags: { json: jsonFlag },
  },
  docs: { brief: "Mark messages read by id, after looking at them with inbox --peek" },
});

interface WaitFlags {
  json: boolean;
  timeout?: number;
}

export const waitCommand = buildCommand<WaitFlags, [], CliContext>({
  func: action(async ({ deps, out }, flags: WaitFlags) => {
    const timeoutMs = flags.timeout === undefined ? undefined : flags.timeout * 1000;
    const { value: received, settle } = await wait({ deps, log: out }, { timeoutMs });
    if (received === null) {
      return { note: `No message within ${flags.timeout} s.`, code: ExitCode.timeout, settle };
    }
    return { data: received, text: formatMessage(received), settle };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      timeout: {
        kind: "parsed",
        parse: numberParser,
        brief: "give up after this many seconds (exit 7)",
        optional: true,
        placeholder: "SECONDS",
      },
    },
  },
  docs: { brief: "Block until a message arrives, print it and mark it read" },
});
