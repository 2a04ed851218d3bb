/** The slice of the Matrix client-server API that cchat speaks. */

export interface MatrixEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  state_key?: string;
  /** What an `m.room.redaction` removes, before room version 11 (later, `content.redacts`). */
  redacts?: string;
  unsigned?: Record<string, unknown>;
  /** Set where the room is not implied, as in an application service's transactions. */
  room_id?: string;
}

export interface StateEvent extends MatrixEvent {
  state_key: string;
}

export interface JoinedRoomSync {
  timeline?: { events: MatrixEvent[]; limited?: boolean; prev_batch?: string };
  state?: { events: MatrixEvent[] };
  /** Receipts and typing: events of no timeline. */
  ephemeral?: { events: { type: string; content: Record<string, unknown> }[] };
}

export interface SyncResponse {
  next_batch: string;
  /** The user's account data that changed, each type's latest content. */
  account_data?: { events?: { type: string; content: Record<string, unknown> }[] };
  rooms?: {
    join?: Record<string, JoinedRoomSync>;
    invite?: Record<string, unknown>;
    leave?: Record<string, unknown>;
  };
}

export interface EventFilter {
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
  limit?: number;
}

export interface RoomEventFilter extends EventFilter {
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  rooms?: string[];
  not_rooms?: string[];
}

export interface SyncFilter {
  event_fields?: string[];
  event_format?: "client" | "federation";
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: {
    rooms?: string[];
    include_leave?: boolean;
    timeline?: RoomEventFilter;
    state?: RoomEventFilter;
    ephemeral?: RoomEventFilter;
    account_data?: RoomEventFilter;
  };
}

export interface PowerLevels {
  users?: Record<string, number>;
  users_default?: number;
  events?: Record<string, number>;
  events_default?: number;
  state_default?: number;
  ban?: number;
  kick?: number;
  redact?: number;
  invite?: number;
}

export interface InitialStateEvent {
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
}

export interface CreateRoomRequest {
  name?: string;
  topic?: string;
  room_alias_name?: string;
  visibility?: "public" | "private";
  preset?: "private_chat" | "public_chat" | "trusted_private_chat";
  creation_content?: Record<string, unknown>;
  initial_state?: InitialStateEvent[];
  power_level_content_override?: PowerLevels;
  invite?: string[];
}

export interface LoginResult {
  userId: string;
  accessToken: string;
  deviceId: string;
}

/** `m.mentions`, so clients highlight the right people. */
export interface Mentions {
  user_ids?: string[];
  room?: boolean;
}

export interface TextMessage {
  body: string;
  /** The body as HTML (`formatted_body`), for clients that show formatting. */
  html?: string;
  msgtype?: "m.text" | "m.notice";
  mentions?: Mentions;
  /** Reply to this event. */
  replyTo?: string;
  /** Post in the thread rooted at this event. */
  threadRoot?: string;
}
