import type { SyncFilter } from "../matrix/types.ts";
import { EVENT_AGENT } from "./names.ts";

/**
 * The daemon's /sync filter. The daemon routes messages and reads no room
 * state, so the timeline keeps only messages and the state keeps only cchat's
 * own agent profile. Dropped: presence, account data, typing, receipts, member
 * lists (Synapse re-sends lazy-loaded members on incremental syncs) and other
 * agents' heartbeats (each beat would wake every daemon's long-poll). Invites
 * and leaves arrive in their own sections of the sync, whatever this says.
 * Only the event fields the daemon reads are sent.
 */
export const AGENT_SYNC_FILTER: SyncFilter = {
  event_fields: ["type", "content", "sender", "event_id", "origin_server_ts", "state_key"],
  event_format: "client",
  presence: { not_types: ["*"] },
  account_data: { not_types: ["*"] },
  room: {
    timeline: { types: ["m.room.message"], limit: 50 },
    state: { types: [EVENT_AGENT] },
    ephemeral: { not_types: ["*"] },
    account_data: { not_types: ["*"] },
  },
};
