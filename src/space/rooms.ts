/** The createRoom bodies of the three kinds of room, with their complete power levels. */
import type { CreateRoomRequest, PowerLevels } from "../matrix/types.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "./names.ts";

/**
 * Synapse merges `power_level_content_override` shallowly, so the `events`
 * map sent here replaces its default map whole: it must be complete.
 */
const ADMIN_ONLY_EVENTS: Record<string, number> = {
  "m.room.name": 100,
  "m.room.topic": 100,
  "m.room.avatar": 100,
  "m.room.canonical_alias": 100,
  "m.room.history_visibility": 100,
  "m.room.join_rules": 100,
  "m.room.power_levels": 100,
  "m.room.server_acl": 100,
  "m.room.tombstone": 100,
  "m.room.encryption": 100,
  "m.space.child": 100,
  "m.space.parent": 100,
  [EVENT_AGENT]: 100,
  [EVENT_HEARTBEAT]: 100,
};

function powerLevels(
  owner: string,
  eventsDefault: number,
  events: Record<string, number>,
): PowerLevels {
  return {
    users: { [owner]: 100 },
    users_default: 0,
    events_default: eventsDefault,
    state_default: 100,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    events: { ...ADMIN_ONLY_EVENTS, ...events },
  };
}

/**
 * Stated outright in every room: a preset's default differs by preset, and
 * Element announces a room as open to guests unless it says otherwise.
 */
const NO_GUESTS = {
  type: "m.room.guest_access",
  state_key: "",
  content: { guest_access: "forbidden" },
};

/**
 * Agent rooms are readable without joining, so `who` reads every beat without
 * joining any room: a member is woken by each beat of a room it is in.
 */
export const AGENT_ROOM_VISIBILITY = { history_visibility: "world_readable" };

export interface RoomOptions {
  owner: string;
  federate: boolean;
}

/**
 * The Space: its members may add children and write their own directory entry
 * (`dev.cchat.agent` keyed by their user id, which only that user may set), so
 * agents register themselves.
 */
export function spaceRoom(options: RoomOptions): CreateRoomRequest {
  return {
    name: "Agents",
    topic: "Directory of cchat agents: each child room is one agent.",
    preset: "public_chat",
    visibility: "private",
    creation_content: { type: "m.space", "m.federate": options.federate },
    initial_state: [NO_GUESTS],
    power_level_content_override: powerLevels(options.owner, 100, {
      "m.space.child": 0,
      [EVENT_AGENT]: 0,
    }),
  };
}

/** The lobby: everyone talks, and every agent may post its own heartbeat. */
export function lobbyRoom(options: RoomOptions): CreateRoomRequest {
  return {
    name: "Agents lobby",
    topic: "Broadcast room of the cchat agents.",
    preset: "public_chat",
    visibility: "private",
    creation_content: { "m.federate": options.federate },
    initial_state: [NO_GUESTS],
    power_level_content_override: powerLevels(options.owner, 0, { [EVENT_HEARTBEAT]: 0 }),
  };
}

/** The join rule that lets members of the Space in without an invite. */
export function restrictedToSpace(spaceId: string): Record<string, unknown> {
  return { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: spaceId }] };
}

/** An agent's own room: anyone in it may post, only the agent changes its state. */
export function agentRoom(
  options: RoomOptions & { name: string; spaceId: string; serverName: string },
): CreateRoomRequest {
  return {
    name: options.name,
    topic: `Room of the cchat agent "${options.name}".`,
    preset: "private_chat",
    visibility: "private",
    creation_content: { "m.federate": options.federate },
    initial_state: [
      { type: "m.room.join_rules", state_key: "", content: restrictedToSpace(options.spaceId) },
      {
        type: "m.room.history_visibility",
        state_key: "",
        content: AGENT_ROOM_VISIBILITY,
      },
      {
        type: "m.space.parent",
        state_key: options.spaceId,
        content: { via: [options.serverName], canonical: true },
      },
      NO_GUESTS,
    ],
    power_level_content_override: powerLevels(options.owner, 0, {}),
  };
}
