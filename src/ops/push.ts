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
import { lookOrWait, SAFETY_POLL_MS } from "./inbox.ts";
import { type Local, type OpContext, openLocal } from "./local.ts";
import { type MessageView, messageView } from "./views.ts";
import type { PermissionRelay, PermissionVerdict } from "./permission.ts";

export interface PushOptions {
  /** Writes one message into the session; resolves once written, rejects when it cannot be. */
  deliver(message: MessageView): Promise<void>;
  /** Approvals asked in the agent's room: an approver's answer goes back as a verdict. */
  relay?: {
    permissions: PermissionRelay;
    /** Writes the verdict into the session; resolves once written. */
    answer(verdict: PermissionVerdict): Promise<void>;
  };
  /** Ends the pushing; what was taken and not yet written is put back. */
  signal: AbortSignal;
}

/**
 * The user ids of a setting that lets people in (`channel_senders`,
 * `approvers`), checked: an entry that is no user id would let no one in.
 */
export function userIdsOf(setting: string, values: string[]): Set<string> {
  const wrong = values.find((value) => serverOfUserId(value) === undefined);
  if (wrong !== undefined) {
    throw new ConfigError(`"${wrong}" in "${setting}" is not a Matrix user id.`, {
      hint: `Give full user ids in "${setting}", for example "@alice:example.org".`,
    });
  }
  return new Set(values);
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
  const senders = userIdsOf("channel_senders", local.config.channelSenders);
  if (senders.size === 0) {
    ctx.log.warn(
      'No message is pushed into the session: "channel_senders" names nobody. ' +
        "Name the user ids whose messages may start a turn; the others stay in the inbox.",
    );
  }
  /** Hands over what there is to hand over; true when something was taken. */
  const handOverUnread = async () => {
    const unread = await local.store.unread();
    if (options.relay && await relayVerdicts(local, unread, options.relay) > 0) return true;
    const allowed = unread.filter((message) => senders.has(message.sender));
    if (allowed.length > 0 && await pushTaken(local, allowed, options) > 0) return true;
    return undefined;
  };
  while (!signal.aborted) {
    await lookOrWait(local, ctx.deps, signal, handOverUnread, () => SAFETY_POLL_MS);
  }
}

/**
 * Takes the approvers' answers to open requests among `unread` and sends
 * each verdict; returns how many were taken. An answer is read once its
 * verdict is written; one that cannot be is unread again.
 */
async function relayVerdicts(
  local: Local,
  unread: InboxMessage[],
  relay: NonNullable<PushOptions["relay"]>,
): Promise<number> {
  // The first answer to a request decides it; a later one is an ordinary message.
  const answers = new Map<string, InboxMessage>();
  for (const message of unread) {
    const verdict = relay.permissions.verdictOf(message);
    if (verdict && !answers.has(verdict.request_id)) answers.set(verdict.request_id, message);
  }
  if (answers.size === 0) return 0;
  const taken = await local.store.claimMessages([...answers.values()]);
  await handOver(local, taken, async (message) => {
    const verdict = relay.permissions.verdictOf(message)!;
    await relay.answer(verdict);
    relay.permissions.close(verdict.request_id);
  });
  return taken.length;
}

/** Takes `messages` and writes each; returns how many were taken. */
async function pushTaken(
  local: Local,
  messages: InboxMessage[],
  { deliver }: PushOptions,
): Promise<number> {
  // Another reader may have taken some since they were looked at: those are its own.
  const taken = await local.store.claimMessages(messages);
  await handOver(local, taken, (message) => deliver(messageView(message)));
  return taken.length;
}

/** Writes each taken message in turn: those written are read, the rest unread again. */
async function handOver(
  local: Local,
  taken: InboxMessage[],
  write: (message: InboxMessage) => Promise<void>,
): Promise<void> {
  let written = 0;
  try {
    for (const message of taken) {
      await write(message);
      written++;
    }
  } finally {
    await local.store.putBack(taken.slice(written));
    if (written > 0) {
      await local.store.handedOver(taken.slice(0, written));
      await local.receipts.notify();
    }
  }
}
