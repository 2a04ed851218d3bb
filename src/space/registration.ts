/** An agent takes its place: its own room, its profile, its entry and its link in the Space. */
import { CchatError, MatrixError } from "../errors.ts";
import { type Directory, openDirectory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { ensureRoom } from "./ensure.ts";
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
 * the room there for Element. Running it again changes nothing: the server
 * drops a state write whose content is unchanged.
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
  const via = [env.serverName];
  try {
    await env.client.putState(roomId, EVENT_AGENT, "", {
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
  // Rooms made before these settings catch up here.
  await Promise.all([
    env.client.putState(roomId, "m.room.join_rules", "", restrictedToSpace(spaceId)),
    env.client.putState(roomId, "m.room.history_visibility", "", AGENT_ROOM_VISIBILITY),
    env.client.putState(roomId, "m.space.parent", spaceId, { via, canonical: true }),
    env.client.putState(spaceId, "m.space.child", roomId, { via }),
    writeEntry(env, spaceId, name, roomId),
  ]);
  await env.cache?.set(name, roomId);
  return roomId;
}

/**
 * The agent's directory entry: its state key is the agent's user id, which
 * only that user may set, so no other member can forge or overwrite it.
 */
async function writeEntry(env: SpaceEnv, spaceId: string, name: string, roomId: string) {
  try {
    await env.client.putState(spaceId, EVENT_AGENT, env.userId, { name, room_id: roomId });
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
  const directory = await openDirectory(env, "create");
  const roomId = directory.spaceId === null
    ? null
    : await registerAgent(env, name, profile, directory.spaceId);
  return { directory, roomId };
}
