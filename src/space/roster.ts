/** Who the agents are and whether each is online: the read behind `who`. */
import { MatrixError } from "../errors.ts";
import type { MatrixEvent } from "../matrix/types.ts";
import { type Agent, type Heartbeat, parseHeartbeat, toAgent } from "./agents.ts";
import type { Directory } from "./directory.ts";
import type { SpaceEnv } from "./env.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "./names.ts";

/** An agent's own entry in the Space: who it is, under which name, and where it beats. */
interface Entry {
  name: string;
  userId: string;
  roomId: string;
  alias: string;
}

/**
 * Every agent with its status, in two sequential round trips whatever the
 * number of agents. With a Space, its `dev.cchat.agent` entries are the
 * directory and each agent's beat is read from its own room, all at once:
 * the rooms are world-readable, so no read joins one. Without a Space, the
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
  const claims = Map.groupBy(entries, (entry) => entry.name);
  const contested = entries.filter((entry) => claims.get(entry.name)!.length > 1);
  // One wave: every beat, and what settles each name more than one entry claims.
  const [beats, owners] = await Promise.all([
    Promise.all(entries.map((entry) => roomBeat(env, entry))),
    Promise.all(contested.map((entry) => owns(env, entry))),
  ]);
  const impostors = new Set(contested.filter((_, i) => !owners[i]));
  return entries.flatMap((entry, i) => {
    if (impostors.has(entry)) {
      env.log.debug(`skipped "${entry.userId}": the name "${entry.name}" is another agent's`);
      return [];
    }
    return [toAgent(entry, beats[i], now, env.staleAfter)];
  });
}

/**
 * The entries of the Space's state. Only an entry whose state key is its
 * sender counts: the server lets nobody else set a key that is a user id.
 */
function spaceEntries(env: SpaceEnv, state: MatrixEvent[]): Entry[] {
  return state.flatMap((event) => {
    if (event.type !== EVENT_AGENT) return [];
    const { name, room_id: roomId } = event.content;
    if (event.state_key !== event.sender) {
      env.log.debug(`skipped an entry keyed "${event.state_key}" from "${event.sender}"`);
      return [];
    }
    if (typeof name !== "string" || typeof roomId !== "string") {
      env.log.debug(`skipped the malformed entry of "${event.sender}"`);
      return [];
    }
    const alias = aliasOrUndefined(env, name);
    return alias ? [{ name, userId: event.sender, roomId, alias }] : [];
  });
}

/**
 * Whether the entry's agent owns the name it claims: the name's alias leads to
 * the entry's room (the alias is made with the name's first room, and only its
 * maker may remove it), and the agent wrote that room's profile (power 100
 * there, held by the room's maker alone). Either alone can be met by another
 * claimant: the profile of a room it made, or an entry naming the owner's room.
 */
async function owns(env: SpaceEnv, entry: Entry): Promise<boolean> {
  const [aliasRoom, profile] = await Promise.all([
    env.client.resolveAlias(entry.alias).then(({ roomId }) => roomId, orNothing),
    env.client.getStateEvent(entry.roomId, EVENT_AGENT).catch(orNothing),
  ]);
  return aliasRoom === entry.roomId && profile?.sender === entry.userId;
}

const unreadable = (err: unknown): err is MatrixError =>
  err instanceof MatrixError && (err.status === 403 || err.status === 404);

/** A refused or missing read proves nothing: undefined. */
const orNothing = (err: unknown): undefined => {
  if (unreadable(err)) return undefined;
  throw err;
};

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
 * The beat an agent left in its own room, if the agent wrote it. Rooms we may
 * not read (made before they were world-readable) are skipped, not fatal.
 */
async function roomBeat(env: SpaceEnv, entry: Entry): Promise<Heartbeat | undefined> {
  let event: MatrixEvent;
  try {
    event = await env.client.getStateEvent(entry.roomId, EVENT_HEARTBEAT, entry.userId);
  } catch (err) {
    if (unreadable(err)) {
      env.log.debug(`no heartbeat readable in "${entry.roomId}" (${err.status} ${err.errcode})`);
      return undefined;
    }
    throw err;
  }
  const beat = parse(env, event);
  if (beat && beat.userId !== entry.userId) {
    env.log.debug(`skipped a beat in "${entry.roomId}" from "${beat.userId}", not its agent`);
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
