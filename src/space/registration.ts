/** An agent takes its place: its own room, its profile, its entry and its link in the Space. */
import { dequal } from "dequal";
import { CchatError, MatrixError } from "../errors.ts";
import type { MatrixEvent } from "../matrix/types.ts";
import { type Directory, keepSpaceChild, openDirectory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { ensureRoom, unlessNotFound } from "./ensure.ts";
import { EVENT_AGENT } from "./names.ts";
import { AGENT_ROOM_VISIBILITY, agentRoom, restrictedToSpace } from "./rooms.ts";

export interface AgentProfile {
  host: string;
  version: string;
}

/** Where a registered agent lives; `roomId` is null in lobby-only mode. */
export interface Membership {
  directory: Directory;
  roomId: string | null;
}

/**
 * Creates or adopts the agent's room, writes its entry in the Space and links
 * the room there for Element. Running it again writes nothing: what this
 * account already wrote, as it is, is read and left alone.
 */
export async function registerAgent(
  env: SpaceEnv,
  name: string,
  profile: AgentProfile,
  spaceId: string,
): Promise<string> {
  const alias = env.aliases.agent(name);
  const { roomId } = await ensureRoom(
    env,
    alias,
    agentRoom({
      owner: env.userId,
      federate: env.federate,
      name,
      spaceId,
      serverName: env.serverName,
    }),
  );
  const [roomState, entry] = await Promise.all([
    env.client.roomState(roomId),
    unlessNotFound(env.client.getStateEvent(spaceId, EVENT_AGENT, env.userId)),
  ]);
  const inRoom = (type: string, stateKey = "") =>
    roomState.find((event) => event.type === type && event.state_key === stateKey);
  try {
    await keepState(env, inRoom(EVENT_AGENT), roomId, EVENT_AGENT, "", {
      name,
      user_id: env.userId,
      host: profile.host,
      version: profile.version,
    });
  } catch (err) {
    if (err instanceof MatrixError && err.status === 403) {
      throw new CchatError(`The agent name "${name}" belongs to another account.`, {
        hint: `The room "${alias}" was created by someone else; choose another name.`,
        cause: err,
      });
    }
    throw err;
  }
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
      await writeEntry(env, spaceId, name, roomId, entry);
    })(),
  ]);
  await env.cache?.set(name, roomId);
  return roomId;
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
  roomId: string,
  current: MatrixEvent | undefined,
) {
  try {
    await keepState(env, current, spaceId, EVENT_AGENT, env.userId, { name, room_id: roomId });
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
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
  const roomId = directory.spaceId === null
    ? null
    : await registerAgent(here, name, profile, directory.spaceId);
  return { directory, roomId };
}
