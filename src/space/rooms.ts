/**
 * The createRoom bodies of the four kinds of room, with their complete power
 * levels, and the check that a room found behind an alias is one of them.
 */
import type { CreateRoomRequest, MatrixEvent, PowerLevels } from "../matrix/types.ts";
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
 * Only members read an agent's room, so every reader shows in its member
 * list; they see its history from before they joined, as a newcomer to a
 * conversation needs.
 */
export const AGENT_ROOM_VISIBILITY = { history_visibility: "shared" };

/**
 * A beat room holds its agent's heartbeat and nothing else, readable without
 * joining: `who` reads every beat without joining any room (a member is
 * woken by each beat of a room it is in), and what it shows is what `who`
 * shows any member of the Space.
 */
export const BEAT_ROOM_VISIBILITY = { history_visibility: "world_readable" };

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

/** An agent's beat room: nobody joins it, nobody but the agent writes to it. */
export function beatRoom(options: RoomOptions & { name: string }): CreateRoomRequest {
  return {
    name: `${options.name} heartbeat`,
    topic: `Heartbeat of the cchat agent "${options.name}"; it holds nothing else.`,
    preset: "private_chat",
    visibility: "private",
    creation_content: { "m.federate": options.federate },
    initial_state: [
      { type: "m.room.history_visibility", state_key: "", content: BEAT_ROOM_VISIBILITY },
      NO_GUESTS,
    ],
    power_level_content_override: powerLevels(options.owner, 100, {}),
  };
}

/** What cchat leaves open to every member of a kind of room; all else needs its owner. */
export const OPEN_EVENTS = {
  space: ["m.space.child", EVENT_AGENT],
  lobby: [EVENT_HEARTBEAT],
  agent: [],
} satisfies Record<string, string[]>;

/** The least power that may moderate, as cchat sets it. */
const MODERATOR = 50;

/**
 * Why a room's state is not that of a room cchat made for `owner` (any
 * creator when undefined), or undefined when it is: its creator is the owner
 * alone, nobody else holds power, and no state but `open` is writable by
 * members. A room anyone made behind an alias cchat uses would otherwise
 * lead messages to its maker, or let its maker's friends rewrite it.
 */
export function roomFlaw(
  state: readonly Pick<MatrixEvent, "type" | "state_key" | "sender" | "content">[],
  owner: string | undefined,
  open: readonly string[],
): string | undefined {
  const create = state.find((e) => e.type === "m.room.create" && e.state_key === "");
  if (!create) return "its creation cannot be read";
  const creator = create.sender;
  if (owner !== undefined && creator !== owner) return `it was made by "${creator}"`;
  if (
    Array.isArray(create.content?.additional_creators) && create.content.additional_creators.length
  ) {
    return "it has more than one creator";
  }
  const levels = state.find((e) => e.type === "m.room.power_levels" && e.state_key === "")
    ?.content as PowerLevels | undefined;
  // The owner's own room while the server still makes it: nobody else has had a hand in it yet.
  if (!levels) return creator === owner ? undefined : "its power levels cannot be read";
  const others = Object.entries(levels.users ?? {}).filter(([user, level]) =>
    user !== creator && level > 0
  );
  if (others.length || (levels.users_default ?? 0) > 0) {
    return `it gives power to ${others.length ? `"${others[0][0]}"` : "every member"}`;
  }
  const below = (level: number | undefined, fallback: number) => (level ?? fallback) < MODERATOR;
  const loose = Object.keys(ADMIN_ONLY_EVENTS).find((type) =>
    !open.includes(type) && below(levels.events?.[type], levels.state_default ?? MODERATOR)
  );
  if (loose) return `its members may change "${loose}"`;
  if (below(levels.state_default, MODERATOR)) return "its members may change its state";
  if (below(levels.kick, MODERATOR) || below(levels.ban, MODERATOR)) {
    return "its members may remove each other";
  }
  return undefined;
}
