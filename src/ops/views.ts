/**
 * The data operations hand to their faces: snake_case like the Matrix API,
 * so the CLI's --json and the MCP server's tool results are the same document.
 */
import type { z } from "zod/v4";
import type { InboxMessage } from "../store/types.ts";
import type { Agent } from "../space/agents.ts";
import type { AgentViewSchema, HistoryResultSchema, MessageViewSchema } from "./schemas.ts";
import { holdsHidden } from "../visible.ts";

export type AgentView = z.infer<typeof AgentViewSchema>;

export function agentView(agent: Agent): AgentView {
  return {
    name: agent.name,
    status: agent.status,
    last_beat_age_ms: agent.lastBeatAgeMs,
    host: agent.host,
    version: agent.version,
    user_id: agent.userId,
    room_id: agent.roomId,
    room_alias: agent.alias,
  };
}

export type MessageView = z.infer<typeof MessageViewSchema>;

/** The recent messages of a room or a thread, as `history` reads them. */
export type HistoryResult = z.infer<typeof HistoryResultSchema>;

export function messageView(m: InboxMessage): MessageView {
  return {
    id: m.id ?? null,
    event_id: m.eventId,
    room_id: m.roomId,
    route: m.route,
    sender: m.sender,
    sender_name: m.senderName ?? null,
    body: m.body,
    msgtype: m.msgtype,
    ts: m.ts,
    auto_reply: m.autoReply,
    reply_to: m.replyTo ?? null,
    thread_root: m.threadRoot ?? null,
    hidden_characters: holdsHidden(m.body),
    edit_of: m.editOf ?? null,
    edited: m.edited ?? false,
  };
}
