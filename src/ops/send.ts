import type { InboxMessage } from "../store/types.ts";
import { CchatError, hasStatus, UsageError } from "../errors.ts";
import { textContent } from "../matrix/client.ts";
import { mayMention, mayNeedFormatting } from "../matrix/format.ts";
import { serverOfUserId } from "../matrix/ids.ts";
import { mentionable } from "../space/mentions.ts";
import type { TextMessage } from "../matrix/types.ts";
import { joinAgentRoom, NoSuchAgentError, withAgentRoom } from "../space/agent_room.ts";
import { LOBBY_KEY, withRoom } from "../space/lookup.ts";
import { validateAgentName } from "../space/names.ts";
import { type DeliveryWait, type SentMessage, track } from "./delivery.ts";
import { messageByRef } from "./inbox.ts";
import type { z } from "zod/v4";
import type { SendResultSchema } from "./schemas.ts";
import { openSession, type Session } from "./session.ts";
import type { OpContext } from "./local.ts";

export interface SendOptions {
  body: string;
  /** An agent's name; the lobby when absent, or the room of the message replied to. */
  to?: string;
  notice?: boolean;
  /** A message to reply to: without `to`, its short id or event id in the inbox. */
  reply?: string;
  /** A message whose thread to post in: without `to`, its short id or event id in the inbox. */
  thread?: string;
  /** Wait after sending until the message is read (or answered): its state goes in the result. */
  await?: DeliveryWait;
  /** User ids to notify, beside those its `@name`s mention. */
  mentions?: string[];
  /** Stops the request: a caller that gave up sends nothing more. */
  signal?: AbortSignal;
}

export type SendResult = z.infer<typeof SendResultSchema>;

/**
 * Synapse refuses events over 65,536 bytes with 413 M_TOO_LARGE; the event
 * wraps the content in about 1 KiB of ids, hashes and signatures.
 */
export const MAX_CONTENT_BYTES = 64_000;

/** Checks everything that needs no network, so bad input sends nothing. */
export function prepareMessage(options: SendOptions): TextMessage {
  if (options.to !== undefined) validateAgentName(options.to);
  if (options.body.trim() === "") {
    throw new UsageError("The message is empty.", {
      hint: 'Give the text as an argument, or "-" to read it from stdin.',
    });
  }
  const wrong = options.mentions?.find((userId) => serverOfUserId(userId) === undefined);
  if (wrong !== undefined) {
    throw new UsageError(`"${wrong}" is not a Matrix user id to mention.`, {
      hint: 'Give full user ids, for example "@alice:example.org", or write @NAME in the text.',
    });
  }
  const message: TextMessage = {
    body: options.body,
    msgtype: options.notice ? "m.notice" : "m.text",
    replyTo: options.reply,
    threadRoot: options.thread,
    ...(options.mentions?.length ? { mentions: { user_ids: [...new Set(options.mentions)] } } : {}),
  };
  return checkSize(message);
}

function checkSize(message: TextMessage): TextMessage {
  const size = new TextEncoder().encode(JSON.stringify(textContent(message))).length;
  if (size > MAX_CONTENT_BYTES) {
    throw new UsageError(
      `The message is ${size} bytes; the homeserver takes at most ${MAX_CONTENT_BYTES}.`,
      { hint: "Shorten it, or split it into several messages." },
    );
  }
  return message;
}

/**
 * `message` with its Markdown as HTML and its `@name`s as mentions, for the
 * people who read it in a Matrix client; the body stays as written.
 */
async function formatted(session: Session, roomId: string, message: TextMessage) {
  if (!mayNeedFormatting(message.body)) return message;
  const [{ formatMarkdown }, users] = await Promise.all([
    import("../matrix/markdown.ts"),
    mayMention(message.body)
      // Names that cannot be read mention nobody: the message still goes.
      ? mentionable(session.space, roomId).catch((err: Error) => {
        session.space.log.debug(`no mention resolved: ${err.message}`);
        return new Map<string, string>();
      })
      : new Map<string, string>(),
  ]);
  const { html, mentioned } = formatMarkdown(message.body, users);
  const userIds = [...new Set([...message.mentions?.user_ids ?? [], ...mentioned])]
    .filter((userId) => userId !== session.userId);
  return checkSize({
    ...message,
    ...(html === undefined ? {} : { html }),
    ...(userIds.length ? { mentions: { ...message.mentions, user_ids: userIds } } : {}),
  });
}

/**
 * Posts to the lobby, or to an agent's room, joining it first when needed.
 * Without `to`, a reply or a thread goes to the room of the message it names.
 */
export async function send(ctx: OpContext, options: SendOptions): Promise<SendResult> {
  const message = prepareMessage(options);
  await using session = await openSession(ctx, {}, { signal: options.signal });
  const { space } = session;
  const txnId = crypto.randomUUID();
  if (options.to === undefined && (options.reply !== undefined || options.thread !== undefined)) {
    const target = await inboxTarget(session, options);
    // Event ids are longer than the short ids they replace: the size is checked again.
    const answer = prepareMessage({ ...options, reply: target.replyTo, thread: target.threadRoot });
    // A reply mentions whom it answers, as the spec asks: so it reaches that sender's inbox
    // wherever the conversation is held.
    if (target.sender !== session.userId) {
      answer.mentions = {
        user_ids: [...new Set([target.sender, ...answer.mentions?.user_ids ?? []])],
      };
    }
    const eventId = await sendJoining(session, target.roomId, answer, txnId);
    const sent = { eventId, roomId: target.roomId, to: target.sender };
    await remember(ctx, session, sent);
    // Answered is read: no hook shows it again, and its sender sees the receipt.
    if (target.answered) {
      const read = await session.store.claimMessages([target.answered]);
      await session.store.handedOver(read);
      if (read.length) await session.receipts.notify();
    }
    return await withDelivery(ctx, session, sent, options.await);
  }
  const post = async (roomId: string) => ({
    roomId,
    eventId: await sendJoining(session, roomId, message, txnId),
  });
  const sent = options.to === undefined
    ? await withRoom(space, LOBBY_KEY, space.aliases.lobby, post)
    : await withNamedRoom(session, options.to, post);
  const posted = { eventId: sent.eventId, roomId: sent.roomId, to: options.to ?? "lobby" };
  await remember(ctx, session, posted);
  return await withDelivery(ctx, session, posted, options.await);
}

/** The result of a send; with `awaited`, once the message got that far. */
async function withDelivery(
  ctx: OpContext,
  session: Session,
  sent: SentMessage,
  awaited: DeliveryWait | undefined,
): Promise<SendResult> {
  const result = { event_id: sent.eventId, room_id: sent.roomId, to: sent.to };
  if (!awaited) return result;
  return { ...result, state: (await track(ctx, session, sent, awaited)).state };
}

/**
 * Notes what was sent, so the daemon takes replies to it as meant for this
 * agent; the message is out either way, so a failure here fails nothing.
 */
async function remember(ctx: OpContext, session: Session, sent: SentMessage): Promise<void> {
  try {
    await session.store.rememberSent(sent.eventId, { roomId: sent.roomId, to: sent.to });
  } catch (err) {
    ctx.log.debug(`The sent event "${sent.eventId}" could not be noted: ${(err as Error).message}`);
  }
}

export interface ReplyOptions {
  /** The short id of a message in the inbox, or its event id. */
  id: number | string;
  text: string;
  notice?: boolean;
  signal?: AbortSignal;
}

/** Answers a message in its own room, inside its thread when it was in one. */
export function reply(ctx: OpContext, options: ReplyOptions): Promise<SendResult> {
  return send(ctx, {
    body: options.text,
    notice: options.notice,
    reply: String(options.id),
    signal: options.signal,
  });
}

interface Target {
  roomId: string;
  sender: string;
  /** The message a reply answers. */
  answered?: InboxMessage;
  replyTo?: string;
  threadRoot?: string;
}

/**
 * Where a reply or a thread message belongs, from the messages in the inbox:
 * a reply stays in the thread of the message it answers.
 */
async function inboxTarget(session: Session, options: SendOptions): Promise<Target> {
  const replied = options.reply === undefined
    ? undefined
    : await messageByRef(session.store, options.reply);
  const threaded = options.thread === undefined
    ? undefined
    : await messageByRef(session.store, options.thread);
  const named = (replied ?? threaded)!;
  if (replied && threaded && replied.roomId !== threaded.roomId) {
    throw new UsageError(
      `The messages "${options.reply}" and "${options.thread}" are in different rooms.`,
      { hint: "Reply to a message of the thread, or give --to NAME and full event ids." },
    );
  }
  return {
    roomId: named.roomId,
    sender: named.sender,
    answered: replied,
    replyTo: replied?.eventId,
    threadRoot: threaded ? threaded.threadRoot ?? threaded.eventId : replied?.threadRoot,
  };
}

/** Sends; when not in the room yet, joins it and sends the same transaction again. */
async function sendJoining(
  session: Session,
  roomId: string,
  message: TextMessage,
  txnId: string,
): Promise<string> {
  const content = await formatted(session, roomId, message);
  try {
    return await session.client.sendText(roomId, content, txnId);
  } catch (err) {
    if (!(hasStatus(err, 403))) throw err;
  }
  await joinAgentRoom(session.space, roomId);
  return await session.client.sendText(roomId, content, txnId);
}

async function withNamedRoom<T>(
  session: Session,
  name: string,
  use: (roomId: string) => Promise<T>,
): Promise<T> {
  try {
    return await withAgentRoom(session.space, name, use);
  } catch (err) {
    if (!(err instanceof NoSuchAgentError)) throw err;
    throw new CchatError(err.message, { hint: await suggestion(name, err.names) });
  }
}

/** Close names, loaded only when a name is wrong: most sends never need the library. */
async function suggestion(name: string, names: string[]): Promise<string> {
  const { distance } = await import("fastest-levenshtein");
  const close = names
    .map((candidate) => ({ candidate, d: distance(candidate, name) }))
    .filter(({ candidate, d }) =>
      d <= Math.max(2, Math.floor(name.length / 3)) || candidate.includes(name)
    )
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ candidate }) => `"${candidate}"`);
  return close.length
    ? `Did you mean ${close.join(" or ")}?`
    : 'Run "cchat who" to list the agents.';
}
