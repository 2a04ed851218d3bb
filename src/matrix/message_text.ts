/**
 * What a person or an agent reads of an `m.room.message`, as clients write
 * them: the latest text of an edit, the reply and thread it belongs to, a
 * reply without the quote some clients put before it, and the text of a
 * message that only its HTML carries. Pure, for the inbox and for history.
 */
import type { MatrixEvent } from "./types.ts";

/** An `m.replace` edit: the message it edits, and the new content as `m.new_content` carries it. */
export function replacement(
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
export function readableText(
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

export function relation(event: MatrixEvent): { replyTo?: string; threadRoot?: string } {
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
