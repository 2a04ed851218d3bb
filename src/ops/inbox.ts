import { UsageError } from "../errors.ts";
import { type OpContext, openSession } from "./session.ts";
import { type MessageView, messageView } from "./views.ts";

export interface InboxOptions {
  /** Leave the messages unread. */
  peek?: boolean;
  limit?: number;
}

/**
 * Unread messages, oldest first; reading claims them unless `peek`, so
 * readers running at once never share a message.
 */
export async function inbox(ctx: OpContext, options: InboxOptions = {}): Promise<MessageView[]> {
  const limit = checkLimit(options.limit);
  await using session = await openSession(ctx, {}, { offline: true });
  const messages = options.peek
    ? await session.store.unread(limit)
    : await session.store.claim(limit);
  return messages.map(messageView);
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return Infinity;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`The limit "${limit}" is not a whole number of at least 1.`, {
      hint: "For example --limit 10.",
    });
  }
  return limit;
}

export interface WaitOptions {
  /** Give up after this long; forever when absent. */
  timeoutMs?: number;
}

/**
 * The daemon rings the inbox signal when it stores messages; this slow look
 * is only a safety net for a notification the system lost.
 */
export const SAFETY_POLL_MS = 5_000;

/** Blocks until this reader claims an unread message; null at the timeout. */
export async function wait(ctx: OpContext, options: WaitOptions = {}): Promise<MessageView | null> {
  const timeoutMs = options.timeoutMs ?? Infinity;
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`The timeout "${timeoutMs / 1000}" is not a number of seconds.`, {
      hint: "For example --timeout 30.",
    });
  }
  await using session = await openSession(ctx, {}, { offline: true });
  const { deps } = ctx;
  const deadline = deps.now() + timeoutMs;
  for (;;) {
    const look = new AbortController();
    // Watch before looking, so a message stored in between still wakes this reader.
    const changed = session.inbox.changed(look.signal).catch(() => {});
    try {
      const [message] = await session.store.claim(1);
      if (message) return messageView(message);
      const left = deadline - deps.now();
      if (left <= 0) return null;
      const poll = deps.sleep(Math.min(SAFETY_POLL_MS, left), look.signal).catch(() => {});
      await Promise.race([changed, poll]);
    } finally {
      look.abort();
      await changed;
    }
  }
}
