/** An agent takes its place: its own rooms, its profile, its entry and its link in the Space. */
import { dequal } from "dequal";
import { hasStatus, isRefusal } from "../errors.ts";
import type { MatrixEvent, StateEvent } from "../matrix/types.ts";
import { type Directory, keepSpaceChild, openDirectory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { ensureRoom, unlessNotFound, unlessRefused } from "./ensure.ts";
import { EVENT_AGENT } from "./names.ts";
import {
  AGENT_ROOM_VISIBILITY,
  agentRoom,
  beatRoom,
  OPEN_EVENTS,
  restrictedToSpace,
  roomFlaw,
} from "./rooms.ts";

export interface AgentProfile {
  host: string;
  version: string;
}

/** Where a registered agent lives; its rooms are null in lobby-only mode. */
export interface Membership {
  directory: Directory;
  roomId: string | null;
  /** Where its heartbeat goes: its beat room, or the lobby in lobby-only mode. */
  beatRoomId: string | null;
  /** Why a room behind one of its aliases was refused as not its own, when one was. */
  refused?: string;
}

/** The agent's two rooms, and what it refused on the way. */
export interface Registration {
  roomId: string;
  beatRoomId: string;
  refused?: string;
}

/** Cache key of an agent's beat room; `#` starts no agent name. */
export const beatRoomKey = (name: string) => `#beat/${name}`;

/**
 * Creates or adopts the agent's rooms, writes its entry in the Space and
 * links its room there for Element. Running it again writes nothing: what
 * this account already wrote, as it is, is read and left alone.
 */
export async function registerAgent(
  env: SpaceEnv,
  name: string,
  profile: AgentProfile,
  spaceId: string,
): Promise<Registration> {
  // A bad name fails before any request.
  env.aliases.agent(name);
  const entry = await unlessNotFound(env.client.getStateEvent(spaceId, EVENT_AGENT, env.userId));
  const { roomId, state: roomState, refused } = await ownRoom(env, name, spaceId, entry);
  // The entry is this account's alone to write, so the beat room it names was made by this agent.
  const beatRoomId = recordedRoom(entry, name, "beat_room_id") ??
    await env.client.createRoom(beatRoom({ owner: env.userId, federate: env.federate, name }));
  const inRoom = (type: string, stateKey = "") =>
    roomState.find((event) => event.type === type && event.state_key === stateKey);
  await keepState(env, inRoom(EVENT_AGENT), roomId, EVENT_AGENT, "", {
    name,
    user_id: env.userId,
    host: profile.host,
    version: profile.version,
  });
  // Rooms made before these settings catch up here. Writes to one room go one at a time: two at
  // once would fork its history. The agent's room and the Space are written side by side.
  const parent = { via: [env.serverName], canonical: true };
  await Promise.all([
    (async () => {
      await keepState(
        env,
        inRoom("m.room.join_rules"),
        roomId,
        "m.room.join_rules",
        "",
        restrictedToSpace(spaceId),
      );
      await keepState(
        env,
        inRoom("m.room.history_visibility"),
        roomId,
        "m.room.history_visibility",
        "",
        AGENT_ROOM_VISIBILITY,
      );
      await keepState(
        env,
        inRoom("m.space.parent", spaceId),
        roomId,
        "m.space.parent",
        spaceId,
        parent,
      );
    })(),
    (async () => {
      await keepSpaceChild(env, spaceId, roomId);
      await writeEntry(env, spaceId, name, { room_id: roomId, beat_room_id: beatRoomId }, entry);
    })(),
  ]);
  await Promise.all([env.cache?.set(name, roomId), env.cache?.set(beatRoomKey(name), beatRoomId)]);
  return { roomId, beatRoomId, ...refused === undefined ? {} : { refused } };
}

/**
 * The agent's own room: the one its entry names, else the one behind its
 * alias, provided the agent made it as cchat makes it. Anyone may create the
 * alias before the agent first boots; such a room is left, reported, and the
 * agent makes a room of its own without the alias: its entry in the Space,
 * which no other account can write, is what leads people and agents there.
 */
async function ownRoom(
  env: SpaceEnv,
  name: string,
  spaceId: string,
  entry: MatrixEvent | undefined,
): Promise<{ roomId: string; state: StateEvent[]; refused?: string }> {
  const alias = env.aliases.agent(name);
  const request = agentRoom({
    owner: env.userId,
    federate: env.federate,
    name,
    spaceId,
    serverName: env.serverName,
  });
  const recorded = recordedRoom(entry, name, "room_id");
  const [recordedState, aliasRoom] = await Promise.all([
    recorded === undefined ? undefined : unlessRefused(readJoined(env, recorded)),
    unlessNotFound(env.client.resolveAlias(alias)).then((found) => found?.roomId),
  ]);
  if (recordedState && !roomFlaw(recordedState, env.userId, OPEN_EVENTS.agent)) {
    if (aliasRoom === undefined || aliasRoom === recorded) {
      return { roomId: recorded!, state: recordedState };
    }
    const refused = `"${alias}" leads to the room "${aliasRoom}", not to this agent's own.`;
    env.log.warn(`${refused} That room is left alone.`);
    return { roomId: recorded!, state: recordedState, refused };
  }
  let flaw: string | undefined;
  let found = aliasRoom;
  try {
    const { roomId, created } = await ensureRoom(env, alias, request);
    const state = await env.client.roomState(roomId);
    flaw = created ? undefined : roomFlaw(state, env.userId, OPEN_EVENTS.agent);
    if (!flaw) return { roomId, state };
    found = roomId;
    await env.client.leave(roomId).catch((err) => {
      if (!isRefusal(err)) throw err;
    });
  } catch (err) {
    if (!isRefusal(err) || found === undefined) throw err;
    flaw = "it does not let this agent in";
  }
  const refused = `The room "${found}" behind "${alias}" is not this agent's own: ${flaw}.`;
  env.log.warn(`${refused} The agent uses a room of its own without that alias.`);
  const { room_alias_name: _alias, ...unaliased } = request;
  const own = await env.client.createRoom(unaliased);
  return { roomId: own, state: await env.client.roomState(own), refused };
}

/** A room's state, joining it first when the agent is not in it (a room it made lets it in). */
async function readJoined(env: SpaceEnv, roomId: string): Promise<StateEvent[]> {
  if (!env.joined?.has(roomId)) await env.client.join(roomId, [env.serverName]);
  return await env.client.roomState(roomId);
}

/**
 * A room the agent's entry names under `field`. An entry written under another
 * name is a renamed agent's: its rooms are not this name's.
 */
function recordedRoom(
  entry: MatrixEvent | undefined,
  name: string,
  field: "room_id" | "beat_room_id",
): string | undefined {
  const roomId = entry?.content?.[field];
  return entry?.content?.name === name && typeof roomId === "string" ? roomId : undefined;
}

/**
 * Writes a state event unless this account already wrote this content there.
 * The server would drop such a write as a duplicate, but only after building
 * and checking the event: about 14 ms of Synapse's CPU against 3 ms for the
 * read, repeated by every agent of a fleet at every boot.
 */
async function keepState(
  env: SpaceEnv,
  current: MatrixEvent | undefined,
  roomId: string,
  type: string,
  stateKey: string,
  content: Record<string, unknown>,
): Promise<void> {
  if (current?.sender === env.userId && dequal(current.content, content)) return;
  await env.client.putState(roomId, type, stateKey, content);
}

/**
 * The agent's directory entry: its state key is the agent's user id, which
 * only that user may set, so no other member can forge or overwrite it.
 */
async function writeEntry(
  env: SpaceEnv,
  spaceId: string,
  name: string,
  rooms: { room_id: string; beat_room_id: string },
  current: MatrixEvent | undefined,
) {
  try {
    await keepState(env, current, spaceId, EVENT_AGENT, env.userId, { name, ...rooms });
  } catch (err) {
    if (!(hasStatus(err, 403))) throw err;
    // A Space made before entries existed: the agent works on, unlisted until an admin opens them.
    env.log.warn(
      `The Space "${env.aliases.space}" does not let its members write "${EVENT_AGENT}", so ` +
        `"who" will not list "${name}"; a Space admin must give that event power 0.`,
    );
  }
}

/** Opens the directory (creating it when missing) and registers the agent: what an agent does before it beats. */
export async function enter(
  env: SpaceEnv,
  name: string,
  profile: AgentProfile,
): Promise<Membership> {
  // Every boot enters: after the first, the agent is in all three rooms already.
  const here = { ...env, joined: new Set(await env.client.joinedRooms()) };
  const directory = await openDirectory(here, "create");
  if (directory.spaceId === null) return { directory, roomId: null, beatRoomId: null };
  return { directory, ...await registerAgent(here, name, profile, directory.spaceId) };
}
