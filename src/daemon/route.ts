/** Which synced events reach the inbox, and as what. Pure, so every rule is tested directly. */
import type { MatrixEvent } from "../matrix/types.ts";
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

/** An `m.replace` edit: the message it edits, and the new text as `m.new_content` carries it. */
function replacement(
  event: MatrixEvent,
): { editOf: string; body: string; msgtype?: string } | undefined {
  const relates = event.content["m.relates_to"] as Record<string, unknown> | undefined;
  const fresh = event.content["m.new_content"] as Record<string, unknown> | undefined;
  if (relates?.rel_type !== "m.replace" || typeof relates.event_id !== "string") return undefined;
  if (typeof fresh !== "object" || fresh === null || typeof fresh.body !== "string") {
    return undefined;
  }
  return {
    editOf: relates.event_id,
    body: fresh.body,
    msgtype: typeof fresh.msgtype === "string" ? fresh.msgtype : undefined,
  };
}

function relation(event: MatrixEvent): { replyTo?: string; threadRoot?: string } {
  const relates = event.content["m.relates_to"] as Record<string, unknown> | undefined;
  if (typeof relates !== "object" || relates === null || relates.rel_type === "m.replace") {
    return {};
  }
  const threadRoot = relates.rel_type === "m.thread" && typeof relates.event_id === "string"
    ? relates.event_id
    : undefined;
  // In a thread, a reply marked as a fallback only serves clients without threads.
  const fallback = threadRoot !== undefined && relates.is_falling_back === true;
  const inReplyTo = relates["m.in_reply_to"] as { event_id?: unknown } | undefined;
  const replyTo = !fallback && typeof inReplyTo?.event_id === "string"
    ? inReplyTo.event_id
    : undefined;
  return { replyTo, threadRoot };
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
  const body = edit?.body ?? event.content.body;
  const msgtype = edit?.msgtype ?? event.content.msgtype;
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
