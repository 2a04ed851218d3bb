import type { SyncFilter } from "../matrix/types.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "./names.ts";

/** The state an agent reads: who is in the room, what the room is called, and cchat's own types. */
const STATE_TYPES = [
  "m.room.member",
  "m.room.name",
  "m.room.canonical_alias",
  EVENT_AGENT,
  EVENT_HEARTBEAT,
];

/**
 * The daemon's /sync filter: messages, cchat's own events, state and
 * membership; no presence, account data, typing or receipts, and members
 * loaded lazily. The timeline keeps only messages: Synapse moves the state
 * changes it drops into `state`, where the state filter keeps what the daemon
 * reads. Only the event fields the daemon reads are sent.
 */
export const AGENT_SYNC_FILTER: SyncFilter = {
  event_fields: ["type", "content", "sender", "event_id", "origin_server_ts", "state_key"],
  event_format: "client",
  presence: { not_types: ["*"] },
  account_data: { not_types: ["*"] },
  room: {
    timeline: { types: ["m.room.message"], limit: 50, lazy_load_members: true },
    state: { types: STATE_TYPES, lazy_load_members: true },
    ephemeral: { not_types: ["*"] },
    account_data: { not_types: ["*"] },
  },
};
