/**
 * Messages taken from the inbox for one reader, and how that taking ends:
 * a message is read only once it reached its reader, so none goes to nobody.
 */
import type { InboxMessage } from "../store/types.ts";
import { type Local, type OpContext, openLocal } from "./local.ts";

/**
 * Messages taken from the inbox for one reader, not yet in its hands. The
 * face that shows them settles the taking: delivered, they are read (and the
 * people in their rooms see a receipt within a second); not delivered (the
 * call was cancelled, its answer could not be written), they are unread
 * again, so no other reader misses them. Until settled the data file stays open.
 */
export interface Taken<T> {
  value: T;
  settle(delivered: boolean): Promise<void>;
}

/** What one reading took: messages now the reader's, and unread ones it was shown a part of. */
export interface Taking<T> {
  /** Taken from the inbox: read once delivered, unread again if not. */
  messages: InboxMessage[];
  /** Left unread but shown in part: once delivered, no briefing shows them again. */
  briefed?: InboxMessage[];
  value: T;
}

/** What was taken from `local`, as a Taken that owns the data file and closes it once settled. */
function taken<T>(local: Local, { messages, briefed = [], value }: Taking<T>): Taken<T> {
  let settled = false;
  return {
    value,
    async settle(delivered) {
      if (settled) return;
      settled = true;
      try {
        if (!delivered) return await local.store.putBack(messages);
        if (briefed.length) await local.store.markBriefed(briefed);
        if (messages.length === 0) return;
        await local.store.handedOver(messages);
        await local.receipts.notify();
      } finally {
        await local[Symbol.asyncDispose]();
      }
    },
  };
}

/**
 * Runs `take` on the local side (the data file, no network); a failure, or
 * a stop by `signal` before the result is handed out, gives back all it took.
 */
export async function takeWith<T>(
  ctx: OpContext,
  signal: AbortSignal | undefined,
  take: (local: Local) => Promise<Taking<T>>,
): Promise<Taken<T>> {
  const local = await openLocal(ctx);
  let result: Taken<T> | undefined;
  try {
    result = taken(local, await take(local));
  } finally {
    if (!result) await local[Symbol.asyncDispose]();
  }
  if (signal?.aborted) {
    await result.settle(false);
    throw signal.reason;
  }
  return result;
}
