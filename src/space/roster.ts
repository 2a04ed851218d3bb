/** Who the agents are and whether each is online: the read behind `who`. */
import pMap from "p-map";
import { MatrixError } from "../errors.ts";
import type { MatrixEvent } from "../matrix/types.ts";
import {
  type Agent,
  agentNameFromAlias,
  type Heartbeat,
  parseHeartbeat,
  spaceChildren,
  toAgent,
} from "./agents.ts";
import type { Directory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { EVENT_HEARTBEAT } from "./names.ts";

const ROOM_READ_CONCURRENCY = 8;

/**
 * Every agent with its status. With a Space, the directory comes from
 * /hierarchy and heartbeats from the lobby's state; an agent with no lobby
 * beat falls back to the beat in its own room, read in parallel with a
 * bound. Without a Space, the lobby's heartbeats are the directory.
 */
export async function listAgents(env: SpaceEnv, directory: Directory): Promise<Agent[]> {
  const now = env.deps.now();
  if (directory.spaceId === null) {
    const beats = await lobbyBeats(env, directory.lobbyId);
    return [...beats.values()].flatMap((beat) => {
      const alias = aliasOrUndefined(env, beat.name);
      if (!alias) return [];
      const entry = { name: beat.name, userId: beat.userId, roomId: null, alias };
      return [toAgent(entry, beat, now, env.staleAfter)];
    });
  }
  const spaceId = directory.spaceId;
  const [rooms, beats] = await Promise.all([
    env.client.hierarchy(spaceId, { maxDepth: 1 }),
    lobbyBeats(env, directory.lobbyId),
  ]);
  const space = rooms.find((room) => room.room_id === spaceId);
  if (!space) return [];
  const summaries = new Map(rooms.map((room) => [room.room_id, room]));
  const entries = spaceChildren(space, env.log.debug).flatMap((child) => {
    const summary = summaries.get(child.roomId);
    const name = agentNameFromAlias(summary?.canonical_alias, env.prefix);
    if (!summary || !name) {
      env.log.debug(`skipped Space child "${child.roomId}": not a visible agent room`);
      return [];
    }
    return [{ name, userId: child.sender, roomId: child.roomId, alias: summary.canonical_alias! }];
  });
  return await pMap(entries, async (entry) => {
    const lobbyBeat = beats.get(entry.userId);
    const beat = lobbyBeat?.name === entry.name
      ? lobbyBeat
      : await roomBeat(env, entry.roomId, entry.userId);
    return toAgent(entry, beat, now, env.staleAfter);
  }, { concurrency: ROOM_READ_CONCURRENCY });
}

async function lobbyBeats(env: SpaceEnv, lobbyId: string): Promise<Map<string, Heartbeat>> {
  const beats = new Map<string, Heartbeat>();
  for (const event of await env.client.roomState(lobbyId)) {
    if (event.type !== EVENT_HEARTBEAT) continue;
    const beat = parse(env, event);
    if (beat) beats.set(beat.userId, beat);
  }
  return beats;
}

/** The beat an agent left in its own room; rooms we may not read are skipped, not fatal. */
async function roomBeat(
  env: SpaceEnv,
  roomId: string,
  userId: string,
): Promise<Heartbeat | undefined> {
  try {
    return parse(env, await env.client.getStateEvent(roomId, EVENT_HEARTBEAT, userId));
  } catch (err) {
    if (err instanceof MatrixError && (err.status === 403 || err.status === 404)) {
      env.log.debug(`no heartbeat readable in "${roomId}" (${err.status} ${err.errcode})`);
      return undefined;
    }
    throw err;
  }
}

function parse(env: SpaceEnv, event: MatrixEvent): Heartbeat | undefined {
  const beat = parseHeartbeat(event);
  if (typeof beat === "string") {
    env.log.debug(`skipped a heartbeat: ${beat}`);
    return undefined;
  }
  return beat;
}

function aliasOrUndefined(env: SpaceEnv, name: string): string | undefined {
  try {
    return env.aliases.agent(name);
  } catch {
    env.log.debug(`skipped a heartbeat with the unusable name "${name}"`);
    return undefined;
  }
}
