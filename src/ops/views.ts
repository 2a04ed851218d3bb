/**
 * The data operations hand to their faces: snake_case like the Matrix API,
 * so the CLI's --json and the MCP server's tool results are the same document.
 */
import type { InboxMessage, Route } from "../store/types.ts";
import type { Agent, AgentStatus } from "../space/agents.ts";
import { holdsHidden } from "../visible.ts";

export interface AgentView {
  name: string;
  status: AgentStatus;
  last_beat_age_ms: number | null;
  host: string;
  version: string;
  user_id: string;
  room_id: string | null;
  room_alias: string;
}

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

export interface MessageView {
  /** The short id to quote back (`cchat reply ID`); null on messages stored by an older daemon. */
  id: number | null;
  event_id: string;
  room_id: string;
  route: Route;
  sender: string;
  body: string;
  msgtype: string;
  ts: number;
  auto_reply: boolean;
  reply_to: string | null;
  thread_root: string | null;
  /**
   * The body holds characters plain output shows escaped (controls, bidi
   * marks, zero-width and tag characters, separators): `body` is exact, so
   * what it shows may differ from what it holds.
   */
  hidden_characters: boolean;
  /** The message this one edits, when it edits one already read: the body is the new text. */
  edit_of: string | null;
  /** Its sender edited it while it was unread: the body is the latest text. */
  edited: boolean;
}

export function messageView(m: InboxMessage): MessageView {
  return {
    id: m.id ?? null,
    event_id: m.eventId,
    room_id: m.roomId,
    route: m.route,
    sender: m.sender,
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
