/**
 * The documents operations hand to their faces, as zod schemas: the source
 * of the view types (views.ts imports them as types only, so the commands
 * never load zod) and the `outputSchema` of each MCP tool.
 */
import { z } from "zod/v4";
import { AGENT_STATUSES } from "../space/agents.ts";
import { ROUTES } from "../store/types.ts";
import { LADDER } from "./ladder.ts";

const eventId = z.string();
const roomId = z.string();

export const MessageViewSchema = z.object({
  /** The short id to quote back (`cchat reply ID`); null on messages stored by an older daemon. */
  id: z.number().int().nullable(),
  event_id: eventId,
  room_id: roomId,
  route: z.enum(ROUTES),
  sender: z.string(),
  /** The agent name the sender holds in the Space; null for people and strangers. */
  sender_name: z.string().nullable(),
  body: z.string(),
  msgtype: z.string(),
  ts: z.number(),
  auto_reply: z.boolean(),
  reply_to: eventId.nullable(),
  thread_root: eventId.nullable(),
  /**
   * The body holds characters plain output shows escaped (controls, bidi
   * marks, zero-width and tag characters, separators): `body` is exact, so
   * what it shows may differ from what it holds.
   */
  hidden_characters: z.boolean(),
  /** The message this one edits, when it edits one already read: the body is the new text. */
  edit_of: eventId.nullable(),
  /** Its sender edited it while it was unread: the body is the latest text. */
  edited: z.boolean(),
});

export const AgentViewSchema = z.object({
  name: z.string(),
  status: z.enum(AGENT_STATUSES),
  last_beat_age_ms: z.number().nullable(),
  host: z.string(),
  version: z.string(),
  user_id: z.string(),
  room_id: roomId.nullable(),
  room_alias: z.string(),
});

const DeliveryStateSchema = z.enum(LADDER);

export const SendResultSchema = z.object({
  event_id: eventId,
  room_id: roomId,
  /** The agent's name, "lobby", or for a message answered in its room the user id of its sender. */
  to: z.string(),
  /** Only when the send waited for its message to be read: how far it got. */
  state: DeliveryStateSchema.optional(),
});

export const DeliveryResultSchema = z.object({
  event_id: eventId,
  room_id: roomId,
  to: z.string(),
  state: DeliveryStateSchema,
  /** Who read it (their read receipt covers it), the sender aside. */
  read_by: z.array(z.string()),
  /** The replies to it and the messages of its thread, as far as the room's recent ones show. */
  answered_by: z.array(z.object({ event_id: eventId, sender: z.string() })),
});

export const WhoResultSchema = z.object({
  /** "lobby" in lobby-only mode, when there is no Space to list from. */
  mode: z.enum(["space", "lobby"]),
  agents: z.array(AgentViewSchema),
});

export const AckResultSchema = z.object({
  /**
   * The messages this acknowledgement took, by id: read now, and their
   * senders see a receipt. Their text was in the peek that came before.
   */
  acknowledged: z.array(MessageViewSchema.pick({ id: true, event_id: true })),
  /** The event ids of those that were read already, by another reader or before. */
  already_read: z.array(eventId),
});

export const HistoryResultSchema = z.object({
  room_id: roomId,
  /** The thread read, by its root; null for the room's own timeline. */
  thread_root: eventId.nullable(),
  messages: z.array(z.object({
    event_id: eventId,
    sender: z.string(),
    /** The agent name the sender holds in the Space; null for people and strangers. */
    sender_name: z.string().nullable(),
    body: z.string(),
    ts: z.number(),
    reply_to: eventId.nullable(),
    thread_root: eventId.nullable(),
    edited: z.boolean(),
    hidden_characters: z.boolean(),
  })),
});
