/**
 * Messages pushed into a live session as they arrive, rather than fetched
 * when the agent asks: each new message from a sender the agent lets in is
 * taken and handed to the face, and is read once the face has written it.
 * A push is a path into a model's context, so only the senders named in
 * `channel_senders` are pushed; the others stay unread for `inbox` and `wait`.
 */
import { ConfigError } from "../errors.ts";
import { serverOfUserId } from "../matrix/ids.ts";
import type { InboxMessage } from "../store/types.ts";
import { SAFETY_POLL_MS } from "./inbox.ts";
import { type Local, type OpContext, openLocal } from "./local.ts";
import { type MessageView, messageView } from "./views.ts";

export interface PushOptions {
  /** Writes one message into the session; resolves once written, rejects when it cannot be. */
  deliver(message: MessageView): Promise<void>;
  /** Ends the pushing; what was taken and not yet written is put back. */
  signal: AbortSignal;
}

/** The user ids of `channel_senders`, checked: an entry that is no user id would let no one in. */
export function channelSenders(senders: string[]): Set<string> {
  const wrong = senders.find((sender) => serverOfUserId(sender) === undefined);
  if (wrong !== undefined) {
    throw new ConfigError(`The channel sender "${wrong}" is not a Matrix user id.`, {
      hint: 'Give full user ids in "channel_senders", for example "@alice:example.org".',
    });
  }
  return new Set(senders);
}

/**
 * Pushes every unread message from an allowed sender, oldest first, then
 * each one that arrives, until `signal` ends it. A message `deliver` could
 * not write is put back unread, and the pushing ends with that failure: the
 * session it was for is gone.
 */
export async function pushMessages(ctx: OpContext, options: PushOptions): Promise<void> {
  const { signal } = options;
  await using local = await openLocal(ctx);
  const senders = channelSenders(local.config.channelSenders);
  if (senders.size === 0) {
    ctx.log.warn(
      'No message is pushed into the session: "channel_senders" names nobody. ' +
        "Name the user ids whose messages may start a turn; the others stay in the inbox.",
    );
  }
  while (!signal.aborted) {
    const look = new AbortController();
    const stop = AbortSignal.any([look.signal, signal]);
    // Watch before looking, so a message stored in between still wakes the pusher.
    const changed = local.inbox.changed(stop).catch(() => {});
    try {
      const unread = await local.store.unread();
      const allowed = unread.filter((message) => senders.has(message.sender));
      if (allowed.length > 0 && await pushTaken(local, allowed, options) > 0) continue;
      const poll = ctx.deps.sleep(SAFETY_POLL_MS, stop).catch(() => {});
      await Promise.race([changed, poll]);
    } finally {
      look.abort();
      await changed;
    }
  }
}

/** Takes `messages` and writes each; returns how many were taken. */
async function pushTaken(
  local: Local,
  messages: InboxMessage[],
  { deliver }: PushOptions,
): Promise<number> {
  // Another reader may have taken some since they were looked at: those are its own.
  const taken = await local.store.claimMessages(messages);
  let written = 0;
  try {
    for (const message of taken) {
      await deliver(messageView(message));
      written++;
    }
  } finally {
    await local.store.putBack(taken.slice(written));
    if (written > 0) {
      await local.store.handedOver(taken.slice(0, written));
      await local.receipts.notify();
    }
  }
  return taken.length;
}
