import { CchatError, MatrixError, UsageError } from "../errors.ts";
import { textContent } from "../matrix/client.ts";
import type { TextMessage } from "../matrix/types.ts";
import { openDirectory } from "../space/directory.ts";
import { LOBBY_KEY, withRoom } from "../space/lookup.ts";
import { validateAgentName } from "../space/names.ts";
import { listAgents } from "../space/roster.ts";
import { type OpContext, openSession, type Session } from "./session.ts";

export interface SendOptions {
  body: string;
  /** An agent's name; the lobby when absent. */
  to?: string;
  notice?: boolean;
  reply?: string;
  thread?: string;
}

export interface SendResult {
  event_id: string;
  room_id: string;
  /** The agent's name, or "lobby". */
  to: string;
}

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
  const message: TextMessage = {
    body: options.body,
    msgtype: options.notice ? "m.notice" : "m.text",
    replyTo: options.reply,
    threadRoot: options.thread,
  };
  const size = new TextEncoder().encode(JSON.stringify(textContent(message))).length;
  if (size > MAX_CONTENT_BYTES) {
    throw new UsageError(
      `The message is ${size} bytes; the homeserver takes at most ${MAX_CONTENT_BYTES}.`,
      { hint: "Shorten it, or split it into several messages." },
    );
  }
  return message;
}

/** Posts to the lobby, or to an agent's room, joining it first when needed. */
export async function send(ctx: OpContext, options: SendOptions): Promise<SendResult> {
  const message = prepareMessage(options);
  await using session = await openSession(ctx);
  const { space } = session;
  const txnId = crypto.randomUUID();
  const post = async (roomId: string) => ({
    roomId,
    eventId: await sendJoining(session, roomId, message, txnId),
  });
  const sent = options.to === undefined
    ? await withRoom(space, LOBBY_KEY, space.aliases.lobby, post)
    : await withAgentRoom(session, options.to, post);
  return { event_id: sent.eventId, room_id: sent.roomId, to: options.to ?? "lobby" };
}

/** Sends; when not in the room yet, joins it and sends the same transaction again. */
async function sendJoining(
  session: Session,
  roomId: string,
  message: TextMessage,
  txnId: string,
): Promise<string> {
  try {
    return await session.client.sendText(roomId, message, txnId);
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
  }
  const { client, space } = session;
  try {
    await client.join(roomId, [space.serverName]);
  } catch (err) {
    // Agent rooms admit members of the Space: a sender that never booted joins the Space first.
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
    await openDirectory(space, "join");
    await client.join(roomId, [space.serverName]);
  }
  return await session.client.sendText(roomId, message, txnId);
}

async function withAgentRoom<T>(
  session: Session,
  name: string,
  use: (roomId: string) => Promise<T>,
): Promise<T> {
  const { space } = session;
  try {
    return await withRoom(space, name, space.aliases.agent(name), use);
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 404)) throw err;
  }
  const directory = await openDirectory(space, "join");
  const names = directory ? (await listAgents(space, directory)).map((a) => a.name) : [];
  throw new CchatError(`No agent is called "${name}".`, {
    hint: await suggestion(name, names),
  });
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
