/**
 * Whom a `@name` in a message may mention: the agents of the Space by their
 * names, then the room's members by the local part of their user id. Display
 * names are left out: anyone may take any display name, and a mention must
 * not reach whoever named themselves after an agent.
 */
import { localpartOfUserId } from "../matrix/ids.ts";
import type { SpaceEnv } from "./env.ts";
import { unlessRefused } from "./ensure.ts";
import { spaceRoomId } from "./lookup.ts";
import { settleClaims, spaceEntries } from "./roster.ts";

/** Names (as written after `@`) and the user id each mentions, for a message to `roomId`. */
export async function mentionable(env: SpaceEnv, roomId: string): Promise<Map<string, string>> {
  const [agents, members] = await Promise.all([
    agentNames(env),
    unlessRefused(env.client.joinedMembers(roomId)),
  ]);
  const users = new Map<string, string>();
  for (const userId of members ?? []) {
    const local = localpartOfUserId(userId);
    if (local !== undefined) users.set(local.toLowerCase(), userId);
  }
  // An agent's name outranks a member's local part that happens to be spelt the same.
  for (const [name, userId] of agents) users.set(name, userId);
  return users;
}

/** Each agent name the Space settles on one account. Without a Space, none. */
async function agentNames(env: SpaceEnv): Promise<Map<string, string>> {
  const spaceId = await unlessRefused(spaceRoomId(env));
  if (spaceId === undefined) return new Map();
  const entries = spaceEntries(env, await env.client.roomState(spaceId));
  const claims = await settleClaims(env, entries);
  const names = new Map<string, string>();
  for (const [name, holders] of claims) {
    const accounts = new Set(holders.map((entry) => entry.userId));
    if (accounts.size === 1) names.set(name, [...accounts][0]);
  }
  return names;
}
