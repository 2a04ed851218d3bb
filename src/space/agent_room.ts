/**
 * The room of an agent by name, for a sender: the room its entry in the
 * Space names, once the sender has joined it and seen that the agent made it.
 * The alias `#PREFIX-NAME` is not followed: anyone may create it first.
 */
import { CchatError, hasStatus } from "../errors.ts";
import { openDirectory } from "./directory.ts";
import { unlessNotFound, unlessRefused } from "./ensure.ts";
import type { SpaceEnv } from "./env.ts";
import { spaceRoomId, withCachedRoom } from "./lookup.ts";
import { EVENT_AGENT } from "./names.ts";
import { type Entry, settleClaims, spaceEntries } from "./roster.ts";
import { OPEN_EVENTS, roomFlaw } from "./rooms.ts";

/** No agent holds the name; `names` are those that are held, for a suggestion. */
export class NoSuchAgentError extends CchatError {
  constructor(agent: string, readonly names: string[]) {
    super(`No agent is called "${agent}".`);
  }
}

/** Runs `use` with the room of the agent called `name`, cached once proven. */
export const withAgentRoom = <T>(
  env: SpaceEnv,
  name: string,
  use: (roomId: string) => Promise<T>,
): Promise<T> => withCachedRoom(env, name, name, () => agentRoom(env, name), use);

/** The proven room of the agent called `name`. */
async function agentRoom(env: SpaceEnv, name: string): Promise<string> {
  const spaceId = await unlessNotFound(spaceRoomId(env));
  if (spaceId === undefined) throw new NoSuchAgentError(name, []);
  const claims = await claimsOf(env, spaceId, name).catch(async (err) => {
    // A sender that never booted reads the Space once it is a member.
    if (!(hasStatus(err, 403))) throw err;
    await openDirectory(env, "join");
    return await claimsOf(env, spaceId, name);
  });
  const proven = (await Promise.all(
    [...Map.groupBy(claims.holders, (entry) => entry.roomId)].map(([roomId, entries]) =>
      provenIn(env, name, roomId, entries)
    ),
  )).flat();
  if (proven.length === 1) return proven[0].roomId;
  const contenders = proven.length ? proven : claims.holders.length ? [] : claims.all;
  if (contenders.length < 2) throw new NoSuchAgentError(name, claims.names);
  const accounts = contenders.map((entry) => `"${entry.userId}"`).join(" and ");
  throw new CchatError(`The name "${name}" is claimed by ${accounts}.`, {
    hint: `Only the account "@${name}:${env.serverName}" holds the name outright; ` +
      "have the others renamed, or removed from the Space.",
  });
}

interface Claims {
  /** The entries that hold the name. */
  holders: Entry[];
  /** Every entry claiming it, held or not. */
  all: Entry[];
  /** The names held in the Space, for a suggestion; only read when the name is not the account's. */
  names: string[];
}

/**
 * The entries that claim `name`: the one of the account named after it when
 * that account claims it (one small read), else those the Space settles.
 */
async function claimsOf(env: SpaceEnv, spaceId: string, name: string): Promise<Claims> {
  const namedAccount = `@${name}:${env.serverName}`;
  const own = await unlessRefused(env.client.getStateEvent(spaceId, EVENT_AGENT, namedAccount));
  if (own) {
    const [entry] = spaceEntries(env, [own]);
    // The name was typed right: should its room fail the check, no other name is worth suggesting.
    if (entry?.name === name) return { holders: [entry], all: [entry], names: [] };
  }
  const entries = spaceEntries(env, await env.client.roomState(spaceId));
  const settled = await settleClaims(env, entries);
  return {
    holders: settled.get(name) ?? [],
    all: entries.filter((entry) => entry.name === name),
    names: [...settled].filter(([, holders]) => holders.length).map(([held]) => held),
  };
}

/**
 * Of the entries naming `roomId`, those whose account made it; the sender
 * joins to see, and leaves a room that is nobody's here.
 */
async function provenIn(
  env: SpaceEnv,
  name: string,
  roomId: string,
  entries: Entry[],
): Promise<Entry[]> {
  let flaw: string | undefined;
  try {
    await joinAgentRoom(env, roomId);
    const state = await env.client.roomState(roomId);
    const proven = entries.filter((entry) => !roomFlaw(state, entry.userId, OPEN_EVENTS.agent));
    if (proven.length) return proven;
    flaw = roomFlaw(state, entries[0].userId, OPEN_EVENTS.agent);
    // Staying would bring that room's messages in; failing to leave costs nothing else.
    await env.client.leave(roomId).catch(() => {});
  } catch (err) {
    if (!(hasStatus(err, 403, 404))) throw err;
    flaw = `it does not let this account in (${err.status} ${err.errcode})`;
  }
  env.log.warn(`The room "${roomId}" of "${name}" is not its agent's: ${flaw}.`);
  return [];
}

/** Joins an agent's room; one who never booted joins the Space first, which lets members in. */
export async function joinAgentRoom(env: SpaceEnv, roomId: string): Promise<void> {
  try {
    await env.client.join(roomId, [env.serverName]);
  } catch (err) {
    if (!(hasStatus(err, 403))) throw err;
    await openDirectory(env, "join");
    await env.client.join(roomId, [env.serverName]);
  }
}
