/** Which synced events reach the inbox, and as what. Pure, so every rule is tested directly. */
import type { MatrixEvent } from "../matrix/types.ts";
import { readableText, relation, replacement } from "../matrix/message_text.ts";
import { serverOfUserId } from "../matrix/ids.ts";
import type { InboxMessage, Route } from "../store/types.ts";

export interface RouteContext {
  userId: string;
  /** The agent's own room; null in lobby-only mode. */
  roomId: string | null;
  lobbyId: string;
  /** Servers whose users may reach the inbox. */
  allowedServers: ReadonlySet<string>;
  /** Events this user sent that the batch's events reply to: such a reply is meant for it. */
  sentByMe?: ReadonlySet<string>;
  /** HTML as readable text, for messages whose body leaves out what only their HTML says. */
  htmlText?: (html: string) => string;
}

export type Verdict =
  | { kind: "inbox"; message: InboxMessage }
  /** A redaction: the message it names is withdrawn, wherever it is in the inbox. */
  | { kind: "withdrawn"; eventId: string }
  | { kind: "dropped-sender" }
  | { kind: "ignored" };

function mentions(event: MatrixEvent, userId: string): boolean {
  const m = event.content["m.mentions"];
  const ids = typeof m === "object" && m !== null
    ? (m as { user_ids?: unknown }).user_ids
    : undefined;
  return Array.isArray(ids) && ids.includes(userId);
}

/** The event a message answers as a rich reply, if any, as the daemon reads it to route it. */
export function repliedTo(event: MatrixEvent): string | undefined {
  return relation(event).replyTo;
}

/**
 * Routes one event by its source: the agent's own room is a direct message,
 * the lobby a broadcast, and anywhere else only a message addressed to the
 * agent counts: one that mentions it, or a reply to one of its own messages.
 * Own echoes are ignored; senders from servers not allowed are dropped,
 * because agents act on what they read.
 */
export function route(event: MatrixEvent, roomId: string, ctx: RouteContext): Verdict {
  if (event.type === "m.room.redaction") {
    // The server lets only the sender (or a moderator) redact: any redaction seen is in force.
    const target = event.redacts ?? event.content.redacts;
    return typeof target === "string"
      ? { kind: "withdrawn", eventId: target }
      : { kind: "ignored" };
  }
  if (event.type !== "m.room.message" || event.sender === ctx.userId) return { kind: "ignored" };
  const edit = replacement(event);
  const content = edit?.content ?? event.content;
  const body = readableText(event, content, ctx.htmlText);
  const msgtype = content.msgtype;
  if (typeof body !== "string" || typeof msgtype !== "string") return { kind: "ignored" };
  const server = serverOfUserId(event.sender);
  if (server === undefined || !ctx.allowedServers.has(server)) return { kind: "dropped-sender" };
  const relations = relation(event);
  const answersMe = relations.replyTo !== undefined &&
    ctx.sentByMe?.has(relations.replyTo) === true;
  let where: Route;
  if (roomId === ctx.roomId) where = "direct";
  else if (mentions(event, ctx.userId) || answersMe) where = "mention";
  else if (roomId === ctx.lobbyId) where = "broadcast";
  else return { kind: "ignored" };
  return {
    kind: "inbox",
    message: {
      eventId: event.event_id,
      roomId,
      route: where,
      sender: event.sender,
      body,
      msgtype,
      ts: event.origin_server_ts,
      autoReply: msgtype !== "m.notice",
      ...relations,
      ...(edit ? { editOf: edit.editOf } : {}),
    },
  };
}
