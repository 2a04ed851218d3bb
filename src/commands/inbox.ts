import type { InboxMessage } from "../daemon/store.ts";
import type { Deps } from "../deps.ts";
import { UsageError } from "../errors.ts";
import type { Output } from "../output.ts";
import { openSession } from "./context.ts";

export interface InboxOptions {
  peek: boolean;
  limit?: string;
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return Infinity;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`The limit "${raw}" is not a whole number of at least 1.`, {
      hint: "For example --limit 10.",
    });
  }
  return limit;
}

/** One message for people: when, who, how it reached us, and the text. */
export function formatMessage(m: InboxMessage): string {
  const when = new Date(m.ts).toISOString().replace("T", " ").slice(0, 19);
  const flags = [m.route, ...(m.autoReply ? [] : ["notice: do not auto-reply"])].join(", ");
  return `[${when}] ${m.sender} (${flags}): ${m.body}`;
}

export function messageJson(m: InboxMessage): Record<string, unknown> {
  return {
    event_id: m.eventId,
    room_id: m.roomId,
    route: m.route,
    sender: m.sender,
    body: m.body,
    msgtype: m.msgtype,
    ts: m.ts,
    auto_reply: m.autoReply,
    reply_to: m.replyTo ?? null,
    thread_root: m.threadRoot ?? null,
  };
}

/** Unread messages, oldest first; reading marks them read unless --peek. */
export async function run(deps: Deps, out: Output, options: InboxOptions): Promise<number> {
  const limit = parseLimit(options.limit);
  await using session = await openSession(deps, out, {});
  const messages = await session.store.unread(limit);
  if (out.json) out.data(messages.map(messageJson));
  else if (messages.length === 0) out.note("No unread messages.");
  else for (const m of messages) out.line(formatMessage(m));
  if (!options.peek) await session.store.markRead(messages);
  return 0;
}
