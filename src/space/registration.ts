/** An agent takes its place: its own room, its profile, and its link in the Space. */
import { CchatError, MatrixError } from "../errors.ts";
import { type Directory, openDirectory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { ensureRoom } from "./ensure.ts";
import { EVENT_AGENT } from "./names.ts";
import { agentRoom, restrictedToSpace } from "./rooms.ts";

export interface AgentProfile {
  host: string;
  version: string;
}

/** Where a registered agent lives; `roomId` is null in lobby-only mode. */
export interface Membership {
  directory: Directory;
  roomId: string | null;
}

/** Creates or adopts the agent's room and links it into the Space. Running it again changes nothing. */
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
  await Promise.all([
    env.client.putState(roomId, "m.room.join_rules", "", restrictedToSpace(spaceId)),
    env.client.putState(roomId, "m.space.parent", spaceId, { via, canonical: true }),
    env.client.putState(spaceId, "m.space.child", roomId, { via }),
  ]);
  await env.cache?.set(name, roomId);
  return roomId;
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
