import type { SyncFilter } from "../matrix/types.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "./names.ts";

/** The state an agent acts on; everything else in a room's state is dropped. */
const STATE_TYPES = [
  "m.room.create",
  "m.room.member",
  "m.room.name",
  "m.room.canonical_alias",
  "m.room.join_rules",
  "m.space.child",
  "m.space.parent",
  EVENT_AGENT,
  EVENT_HEARTBEAT,
];

/**
 * The daemon's /sync filter: messages, cchat's own events, state and
 * membership; no presence, account data, typing or receipts, and members
 * loaded lazily. Incremental syncs carry state changes in the timeline, and
 * Synapse moves a state type the timeline filter drops into `state`, so both
 * filters name the same state types. Only the fields the daemon reads are kept.
 */
export const AGENT_SYNC_FILTER: SyncFilter = {
  event_fields: ["type", "content", "sender", "event_id", "origin_server_ts", "state_key"],
  event_format: "client",
  presence: { not_types: ["*"] },
  account_data: { not_types: ["*"] },
  room: {
    timeline: { types: ["m.room.message", ...STATE_TYPES], limit: 100, lazy_load_members: true },
    state: { types: STATE_TYPES, lazy_load_members: true },
    ephemeral: { not_types: ["*"] },
    account_data: { not_types: ["*"] },
  },
};
