/**
 * The recent messages of a room or a thread, for an agent that joins a
 * conversation late: read from the homeserver, oldest first, never taken
 * from the inbox. Each carries its sender's agent name when it has one.
 */
import { hasStatus, UsageError } from "../errors.ts";
import { needsHtmlText, readableText, relation, replacement } from "../matrix/message_text.ts";
import type { MatrixEvent } from "../matrix/types.ts";
import { joinAgentRoom, withAgentRoom } from "../space/agent_room.ts";
import { LOBBY_KEY, withRoom } from "../space/lookup.ts";
import { validateAgentName } from "../space/names.ts";
import { agentNames } from "../space/roster.ts";
import { holdsHidden } from "../visible.ts";
import { messageByRef } from "./inbox.ts";
import type { OpContext } from "./local.ts";
import { openSession, type Session } from "./session.ts";
import type { HistoryResult } from "./views.ts";

type HistoryMessage = HistoryResult["messages"][number];

/** How many messages a history gives when not told; enough to pick up a conversation. */
export const DEFAULT_HISTORY = 20;
/** The most one history gives: it goes into a model's context whole. */
export const MAX_HISTORY = 100;

export interface HistoryOptions {
  /** "lobby" or an agent's name; the lobby when absent, or the room of `thread`. */
  room?: string;
  /** A message of the thread to read (or its root): its id in the inbox, or its event id. */
  thread?: string | number;
  limit?: number;
  signal?: AbortSignal;
}

const MESSAGE = "m.room.message";

/** The last `limit` messages of a room, or of a thread with its root first. */
export async function history(
  ctx: OpContext,
  options: HistoryOptions = {},
): Promise<HistoryResult> {
  const limit = options.limit ?? DEFAULT_HISTORY;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY) {
    throw new UsageError(`The limit "${limit}" is not a whole number from 1 to ${MAX_HISTORY}.`, {
      hint: `For example --limit ${DEFAULT_HISTORY}.`,
    });
  }
  if (options.room !== undefined && options.room !== "lobby") validateAgentName(options.room);
  await using session = await openSession(ctx, {}, { signal: options.signal });
  const thread = options.thread === undefined ? undefined : await threadOf(session, options);
  const read = (roomId: string) =>
    thread ? threadEvents(session, roomId, thread, limit) : roomEvents(session, roomId, limit);
  const [{ roomId, events }, names] = await Promise.all([
    thread && options.room === undefined
      ? read(thread.roomId).then((events) => ({ roomId: thread.roomId, events }))
      : inRoom(session, options.room ?? "lobby", read),
    agentNames(session.space),
  ]);
  const nameOf = new Map([...names].map(([name, userId]) => [userId, name]));
  // The HTML reader is loaded only for a message only its HTML tells.
  const htmlText = events.some(needsHtmlText)
    ? (await import("../matrix/html_text.ts")).htmlText
    : undefined;
  return {
    room_id: roomId,
    thread_root: thread?.root ?? null,
    messages: messagesOf(events, nameOf, htmlText).slice(-limit),
  };
}

interface Thread {
  /** The room of the message named, when the inbox holds it. */
  roomId: string;
  root: string;
}

/** The thread a message belongs to: the one it is in, or the one it roots. */
async function threadOf(session: Session, options: HistoryOptions): Promise<Thread> {
  const ref = String(options.thread);
  if (ref.startsWith("$") && options.room !== undefined) return { roomId: "", root: ref };
  const message = await messageByRef(session.store, ref);
  return { roomId: message.roomId, root: message.threadRoot ?? message.eventId };
}

/** Reads the room called `room`, joining an agent's room first when not in it yet. */
async function inRoom(
  session: Session,
  room: string,
  read: (roomId: string) => Promise<MatrixEvent[]>,
): Promise<{ roomId: string; events: MatrixEvent[] }> {
  const { space } = session;
  const withId = async (roomId: string) => ({ roomId, events: await read(roomId) });
  if (room === "lobby") return await withRoom(space, LOBBY_KEY, space.aliases.lobby, withId);
  return await withAgentRoom(space, room, async (roomId) => {
    try {
      return await withId(roomId);
    } catch (err) {
      if (!hasStatus(err, 403)) throw err;
    }
    await joinAgentRoom(space, roomId);
    return await withId(roomId);
  });
}

async function roomEvents(session: Session, roomId: string, limit: number) {
  // Edits and withdrawn messages take room in a page: ask for more than will be shown.
  const page = await session.client.messages(roomId, {
    dir: "b",
    limit: limit * 2,
    types: [MESSAGE],
  });
  return page.chunk.reverse();
}

async function threadEvents(session: Session, roomId: string, thread: Thread, limit: number) {
  const [root, replies] = await Promise.all([
    session.client.event(roomId, thread.root),
    session.client.relations(roomId, thread.root, "m.thread", { limit: limit * 2 }),
  ]);
  return [root, ...replies.chunk.filter((event) => event.type === MESSAGE).reverse()];
}

/** The messages of `events` (oldest first) as read: each edit applied, withdrawn ones left out. */
function messagesOf(
  events: MatrixEvent[],
  nameOf: Map<string, string>,
  htmlText?: (html: string) => string,
): HistoryMessage[] {
  // Only its sender may edit a message: anyone else's edit is left out, as clients do.
  const senders = new Map(events.map((event) => [event.event_id, event.sender]));
  const latest = new Map<string, Record<string, unknown>>();
  for (const event of events) {
    const edit = replacement(event);
    if (edit && senders.get(edit.editOf) === event.sender) latest.set(edit.editOf, edit.content);
  }
  return events.flatMap((event) => {
    if (event.type !== MESSAGE || replacement(event)) return [];
    const edited = latest.get(event.event_id) ?? bundledEdit(event);
    const body = readableText(event, edited ?? event.content, htmlText);
    if (body === undefined) return [];
    const { replyTo, threadRoot } = relation(event);
    return [{
      event_id: event.event_id,
      sender: event.sender,
      sender_name: nameOf.get(event.sender) ?? null,
      body,
      ts: event.origin_server_ts,
      reply_to: replyTo ?? null,
      thread_root: threadRoot ?? null,
      edited: edited !== undefined,
      hidden_characters: holdsHidden(body),
    }];
  });
}

/**
 * The latest edit the server bundles with an event (`unsigned.m.relations`),
 * for an edit outside what was read, such as one in a thread.
 */
function bundledEdit(event: MatrixEvent): Record<string, unknown> | undefined {
  const relations = event.unsigned?.["m.relations"] as Record<string, unknown> | undefined;
  const edit = relations?.["m.replace"] as MatrixEvent | undefined;
  return edit && edit.sender === event.sender && edit.content
    ? replacement(edit)?.content
    : undefined;
}
