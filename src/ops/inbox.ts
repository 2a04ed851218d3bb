import { UsageError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { InboxMessage } from "../store/types.ts";
import type { Deps } from "../deps.ts";
import { type Local, type OpContext, openLocal } from "./local.ts";
import type { z } from "zod/v4";
import type { AckResultSchema } from "./schemas.ts";
import { type Taken, takeWith } from "./taken.ts";
import { type MessageView, messageView } from "./views.ts";

export interface InboxOptions {
  /** Leave the messages unread. */
  peek?: boolean;
  limit?: number;
}

/**
 * Unread messages, oldest first; reading takes them unless `peek`, so
 * readers running at once never share a message.
 */
export async function inbox(
  ctx: OpContext,
  options: InboxOptions & { signal?: AbortSignal } = {},
): Promise<Taken<MessageView[]>> {
  const limit = checkLimit(options.limit);
  return await takeWith(ctx, options.signal, async (session) => {
    if (options.peek) {
      return { messages: [], value: (await session.store.unread(limit)).map(messageView) };
    }
    const messages = await session.store.claim(limit);
    return { messages, value: messages.map(messageView) };
  });
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
  /** Stops the wait: nothing is taken, and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The daemon rings the inbox signal when it stores messages; this slow look
 * is only a safety net for a notification the system lost.
 */
export const SAFETY_POLL_MS = 5_000;

/** Blocks until this reader takes an unread message; null at the timeout. */
export async function wait(
  ctx: OpContext,
  options: WaitOptions = {},
): Promise<Taken<MessageView | null>> {
  const timeoutMs = options.timeoutMs ?? Infinity;
  // A timeout that overflows to Infinity ("1e309") would wait for ever: only finite ones count.
  if (options.timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new UsageError(`The timeout "${timeoutMs / 1000}" is not a number of seconds.`, {
      hint: "For example --timeout 30.",
    });
  }
  const { deps } = ctx;
  const { signal } = options;
  const deadline = deps.now() + timeoutMs;
  return await takeWith(ctx, signal, async (session) => {
    const takeOne = async () => {
      const messages = await session.store.claim(1);
      return messages.length > 0 ? messages : undefined;
    };
    for (;;) {
      signal?.throwIfAborted();
      const messages = await lookOrWait(
        session,
        deps,
        signal,
        takeOne,
        () => deadline - deps.now(),
      );
      if (messages) return { messages, value: messageView(messages[0]) };
      if (deadline - deps.now() <= 0) return { messages: [], value: null };
    }
  });
}

/**
 * One look at the inbox by `look`; when it finds nothing, waits until the
 * inbox changes, for at most what `waitMs` then says (and no longer than the
 * safety poll), and returns nothing. The change is watched for before the
 * look, so a message stored in between still wakes the reader.
 */
export async function lookOrWait<T>(
  local: Pick<Local, "inbox">,
  deps: Pick<Deps, "sleep">,
  signal: AbortSignal | undefined,
  look: () => Promise<T | undefined>,
  waitMs: () => number,
): Promise<T | undefined> {
  const looking = new AbortController();
  const stop = signal ? AbortSignal.any([looking.signal, signal]) : looking.signal;
  const changed = local.inbox.changed(stop).catch(() => {});
  try {
    const found = await look();
    const left = waitMs();
    if (found !== undefined || left <= 0) return found;
    const poll = deps.sleep(Math.min(SAFETY_POLL_MS, left), stop).catch(() => {});
    await Promise.race([changed, poll]);
    return undefined;
  } finally {
    looking.abort();
    await changed;
  }
}

/** A message of the inbox by its short id ("12" or "#12") or its event id ("$…"), read or not. */
export async function messageByRef(store: Store, id: number | string): Promise<InboxMessage> {
  const ref = String(id);
  const short = /^#?(\d+)$/.exec(ref);
  if (!short && !ref.startsWith("$")) {
    throw new UsageError(`"${ref}" is not a message id.`, {
      hint: 'Give the number "cchat inbox --peek" shows before a message, or its event id ("$…").',
    });
  }
  const found = await store.message(short ? Number(short[1]) : ref);
  if (!found) {
    throw new UsageError(`No message "${ref}" is in the inbox.`, {
      hint: 'Run "cchat inbox --peek" to see unread messages and their ids; read ones expire.',
    });
  }
  return found;
}

export type AckResult = z.infer<typeof AckResultSchema>;

/**
 * Takes the messages named by id, as read: what a reader looked at with a
 * peek, now acknowledged. Every id is checked before any is taken.
 */
export async function ack(
  ctx: OpContext,
  options: { ids: (number | string)[] },
): Promise<AckResult> {
  if (options.ids.length === 0) {
    throw new UsageError("No message id was given.", {
      hint: 'Give the ids "cchat inbox --peek" shows, for example "cchat ack 3 5".',
    });
  }
  await using local = await openLocal(ctx);
  const named: InboxMessage[] = [];
  for (const id of options.ids) named.push(await messageByRef(local.store, id));
  const taken = await local.store.claimMessages(named);
  await local.store.handedOver(taken);
  if (taken.length) await local.receipts.notify();
  const takenIds = new Set(taken.map((m) => m.eventId));
  return {
    acknowledged: taken.map((m) => ({ id: m.id ?? null, event_id: m.eventId })),
    already_read: [...new Set(named.map((m) => m.eventId))].filter((id) => !takenIds.has(id)),
  };
}
