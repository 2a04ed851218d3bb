/** Which synced events reach the inbox, and as what. Pure, so every rule is tested directly. */
import type { MatrixEvent } from "../matrix/types.ts";
import { serverOfUserId } from "../matrix/ids.ts";
import type { InboxMessage, Route } from "./types.ts";

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
  | { kind: "dropped-sender" }
  | { kind: "ignored" };

function mentions(event: MatrixEvent, userId: string): boolean {
  const m = event.content["m.mentions"];
  const ids = typeof m === "object" && m !== null
    ? (m as { user_ids?: unknown }).user_ids
    : undefined;
  return Array.isArray(ids) && ids.includes(userId);
}

function relation(event: MatrixEvent): { replyTo?: string; threadRoot?: string } {
  const relates = event.content["m.relates_to"] as Record<string, unknown> | undefined;
  if (typeof relates !== "object" || relates === null) return {};
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
  if (event.type !== "m.room.message" || event.sender === ctx.userId) return { kind: "ignored" };
  const body = event.content.body;
  const msgtype = event.content.msgtype;
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
    },
  };
}
