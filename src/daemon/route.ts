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

/** An `m.replace` edit: the message it edits, and the new content as `m.new_content` carries it. */
function replacement(
  event: MatrixEvent,
): { editOf: string; content: Record<string, unknown> } | undefined {
  const relates = event.content["m.relates_to"] as Record<string, unknown> | undefined;
  const fresh = event.content["m.new_content"] as Record<string, unknown> | undefined;
  if (relates?.rel_type !== "m.replace" || typeof relates.event_id !== "string") return undefined;
  if (typeof fresh !== "object" || fresh === null || typeof fresh.body !== "string") {
    return undefined;
  }
  return { editOf: relates.event_id, content: fresh };
}

const isReply = (content: Record<string, unknown>) =>
  typeof (content["m.relates_to"] as Record<string, unknown> | undefined)?.["m.in_reply_to"] ===
    "object";

/** The HTML of a message, without the quote of a reply (`<mx-reply>`) that some clients add. */
function htmlOf(content: Record<string, unknown>): string | undefined {
  if (content.format !== "org.matrix.custom.html" || typeof content.formatted_body !== "string") {
    return undefined;
  }
  return content.formatted_body.replace(/<mx-reply>[\s\S]*?<\/mx-reply>/g, "");
}

/**
 * The quoted lines a client puts before a reply's own text for clients
 * without replies, as the spec says to strip them: the leading `>` lines and
 * the blank line after them.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let start = 0;
  while (start < lines.length && lines[start].startsWith(">")) start++;
  if (start === 0) return body;
  if (lines[start] === "") start++;
  return lines.slice(start).join("\n");
}

/** Whether only the HTML of this message says anything: its text comes from the HTML. */
export function needsHtmlText(event: MatrixEvent): boolean {
  const content = replacement(event)?.content ?? event.content;
  const body = typeof content.body === "string" ? content.body : "";
  const text = isReply(event.content) ? stripReplyFallback(body) : body;
  return text.trim() === "" && (htmlOf(content) ?? "").trim() !== "";
}

/** What an agent reads of a message: its body as written, or the text of its HTML. */
function readableText(
  event: MatrixEvent,
  content: Record<string, unknown>,
  htmlText?: (html: string) => string,
): string | undefined {
  if (typeof content.body !== "string") return undefined;
  const body = isReply(event.content) ? stripReplyFallback(content.body) : content.body;
  const html = htmlOf(content);
  if (body.trim() === "" && html !== undefined && htmlText) return htmlText(html);
  return body;
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
