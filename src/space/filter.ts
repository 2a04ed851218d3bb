import type { SyncFilter } from "../matrix/types.ts";
import { EVENT_SYNC_LOOP } from "./names.ts";

/**
 * The events the inbox is made of: messages, and redactions, as a message
 * withdrawn by its sender leaves the inbox with its text.
 */
export const INBOX_EVENT_TYPES = ["m.room.message", "m.room.redaction"] as const;

/**
 * The daemon's /sync filter. The daemon routes messages and reads no room
 * state, so the timeline keeps only messages and no state is kept at all.
 * Dropped: presence, account data, typing, receipts, member lists (Synapse
 * re-sends lazy-loaded members on incremental syncs), other agents' heartbeats
 * (each beat would end every daemon's long-poll with an answer) and the
 * Space's state, whose agent entries grow with the fleet and would make every
 * agent's first sync as large as the fleet. Invites and leaves arrive in their
 * own sections of the sync, whatever this says.
 * Only the event fields the daemon reads are sent.
 */
export const AGENT_SYNC_FILTER: SyncFilter = {
  event_fields: [
    "type",
    "content",
    "sender",
    "event_id",
    "origin_server_ts",
    "state_key",
    "redacts",
  ],
  event_format: "client",
  presence: { not_types: ["*"] },
  // Only the record of which sync loop runs the account: a newer one elsewhere ends this one.
  account_data: { types: [EVENT_SYNC_LOOP] },
  room: {
    timeline: { types: [...INBOX_EVENT_TYPES], limit: 50 },
    state: { not_types: ["*"] },
    ephemeral: { not_types: ["*"] },
    account_data: { not_types: ["*"] },
  },
};

/**
 * The daemon's first sync only marks where its inbox starts (the token), so
 * it asks for no room: Synapse would otherwise build each room's timeline for
 * an answer the daemon drops, about 70 ms of its CPU for an agent of a
 * 400-member lobby, and the largest part of bringing such a fleet online.
 */
export const MARK_SYNC_FILTER: SyncFilter = {
  presence: { not_types: ["*"] },
  account_data: { not_types: ["*"] },
  room: { rooms: [] },
};
