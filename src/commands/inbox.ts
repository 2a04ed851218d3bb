import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, optional, withDefault } from "@optique/core/modifiers";
import { command, flag, option } from "@optique/core/primitives";
import { integer } from "@optique/core/valueparser";
import { inbox } from "../ops/inbox.ts";
import { action, jsonFlag } from "./common.ts";
import { formatMessage } from "./text.ts";

export const inboxCommand = command(
  "inbox",
  map(
    object({
      json: jsonFlag,
      peek: withDefault(flag("--peek", { description: message`leave them unread` }), false),
      limit: optional(option("--limit", integer({ metavar: "N" }), {
        description: message`at most this many`,
      })),
    }),
    action(async (options, out, deps) => {
      const messages = await inbox({ deps, log: out }, options);
      if (out.json) out.data(messages);
      else if (messages.length === 0) out.info("No unread messages.");
      else for (const m of messages) out.line(formatMessage(m));
      return 0;
    }),
  ),
  { brief: message`Print unread messages, oldest first, and mark them read` },
);
