import { buildCommand, numberParser } from "@stricli/core";
import { history } from "../ops/history.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { formatHistory } from "./text.ts";

interface HistoryFlags {
  json: boolean;
  thread?: string;
  limit?: number;
}

export const historyCommand = buildCommand<HistoryFlags, [string?], CliContext>({
  func: action(async ({ deps, out }, flags: HistoryFlags, room?: string) => {
    const read = await history({ deps, log: out }, { ...flags, room });
    if (read.messages.length === 0) return { data: read, note: "No messages yet." };
    return { data: read, text: formatHistory(read.messages) };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      thread: {
        kind: "parsed",
        parse: String,
        brief: "read the thread of this message (its id from the inbox, or an event id)",
        optional: true,
        placeholder: "ID",
      },
      limit: {
        kind: "parsed",
        parse: numberParser,
        brief: "at most this many, the latest (20 when absent, 100 at most)",
        optional: true,
        placeholder: "N",
      },
    },
    positional: {
      kind: "tuple",
      parameters: [{
        brief: "\"lobby\" or an agent's name (the lobby, or the thread's room, when absent)",
        parse: String,
        placeholder: "ROOM",
        optional: true,
      }],
    },
  },
  docs: {
    brief: "Print the recent messages of a room or a thread, oldest first; takes nothing",
  },
});
