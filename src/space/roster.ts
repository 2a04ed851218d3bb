/** Who the agents are and whether each is online: the read behind `who`. */
import { hasStatus } from "../errors.ts";
import type { MatrixEvent } from "../matrix/types.ts";
import { type Agent, type Heartbeat, parseHeartbeat, toAgent } from "./agents.ts";
import type { Directory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { unlessRefused } from "./ensure.ts";
import { spaceRoomId } from "./lookup.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "./names.ts";

/** An agent's own entry in the Space: who it is, under which name, and where it beats. */
export interface Entry {
  name: string;
  userId: string;
  roomId: string;
  /** Absent in the entries of agents from before beat rooms: they beat in their own room. */
  beatRoomId?: string;
  alias: string;
}

/**
 * Every agent with its status, in two sequential round trips whatever the
 * number of agents. With a Space, its `dev.cchat.agent` entries are the
 * directory and each agent's beat is read from its beat room, all at once:
 * beat rooms are world-readable, so no read joins one. Without a Space, the
 * lobby's heartbeats are the directory.
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
  const entries = spaceEntries(env, await env.client.roomState(directory.spaceId));
  const [beats, claims] = await Promise.all([
    Promise.all(entries.map((entry) => roomBeat(env, entry))),
    settleClaims(env, entries),
  ]);
  return entries.flatMap((entry, i) => {
    if (!claims.get(entry.name)!.includes(entry)) {
      env.log.debug(`skipped "${entry.userId}": the name "${entry.name}" is another agent's`);
      return [];
    }
    return [toAgent(entry, beats[i], now, env.staleAfter)];
  });
}

/**
 * Which of the entries claiming each name hold it. The account named after
 * the agent, `@NAME:server`, holds its name outright: only the server's
 * admin makes accounts. Otherwise an uncontested claim holds, and of
 * contested ones those whose room the name's alias leads to (the alias is
 * made with the name's first room, and only its maker may remove it). What
 * still claims one room together is left for whoever sends there to settle:
 * only a member may read who made a room.
 */
export async function settleClaims(
  env: SpaceEnv,
  entries: Entry[],
): Promise<Map<string, Entry[]>> {
  const claims = Map.groupBy(entries, (entry) => entry.name);
  await Promise.all([...claims].map(async ([name, claimants]) => {
    if (claimants.length < 2) return;
    const named = claimants.filter((entry) => entry.userId === `@${name}:${env.serverName}`);
    if (named.length) return claims.set(name, named);
    const aliasRoom = await unlessRefused(env.client.resolveAlias(claimants[0].alias));
    const holders = claimants.filter((entry) => entry.roomId === aliasRoom?.roomId);
    claims.set(name, holders);
  }));
  return claims;
}

/**
 * The entries of the Space's state. Only an entry whose state key is its
 * sender counts: the server lets nobody else set a key that is a user id.
 */
export function spaceEntries(env: SpaceEnv, state: MatrixEvent[]): Entry[] {
  return state.flatMap((event) => {
    if (event.type !== EVENT_AGENT) return [];
    const { name, room_id: roomId, beat_room_id: beatRoomId } = event.content;
    if (event.state_key !== event.sender) {
      env.log.debug(`skipped an entry keyed "${event.state_key}" from "${event.sender}"`);
      return [];
    }
    if (typeof name !== "string" || typeof roomId !== "string") {
      env.log.debug(`skipped the malformed entry of "${event.sender}"`);
      return [];
    }
    const alias = aliasOrUndefined(env, name);
    if (!alias) return [];
    const beats = typeof beatRoomId === "string" ? { beatRoomId } : {};
    return [{ name, userId: event.sender, roomId, alias, ...beats }];
  });
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

/**
 * The beat an agent left in its beat room, if the agent wrote it. Rooms we
 * may not read (those of agents from before beat rooms) are skipped, not fatal.
 */
async function roomBeat(env: SpaceEnv, entry: Entry): Promise<Heartbeat | undefined> {
  const roomId = entry.beatRoomId ?? entry.roomId;
  let event: MatrixEvent;
  try {
    event = await env.client.getStateEvent(roomId, EVENT_HEARTBEAT, entry.userId);
  } catch (err) {
    if (hasStatus(err, 403, 404)) {
      env.log.debug(`no heartbeat readable in "${roomId}" (${err.status} ${err.errcode})`);
      return undefined;
    }
    throw err;
  }
  const beat = parse(env, event);
  if (beat && beat.userId !== entry.userId) {
    env.log.debug(`skipped a beat in "${roomId}" from "${beat.userId}", not its agent`);
    return undefined;
  }
  return beat;
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
    env.log.debug(`skipped the unusable agent name "${name}"`);
    return undefined;
  }
}

/**
 * Each agent name the Space settles on one account, and that account.
 * Without a Space, or one this account may not read yet, none.
 */
export async function agentNames(env: SpaceEnv): Promise<Map<string, string>> {
  const spaceId = await unlessRefused(spaceRoomId(env));
  const state = spaceId === undefined
    ? undefined
    : await unlessRefused(env.client.roomState(spaceId));
  if (state === undefined) return new Map();
  const entries = spaceEntries(env, state);
  const claims = await settleClaims(env, entries);
  const names = new Map<string, string>();
  for (const [name, holders] of claims) {
    const accounts = new Set(holders.map((entry) => entry.userId));
    if (accounts.size === 1) names.set(name, [...accounts][0]);
  }
  return names;
}
