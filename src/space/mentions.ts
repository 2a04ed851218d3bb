/**
 * Whom a `@name` in a message may mention: the agents of the Space by their
 * names, then the room's members by the local part of their user id. Display
 * names are left out: anyone may take any display name, and a mention must
 * not reach whoever named themselves after an agent.
 */
import { localpartOfUserId } from "../matrix/ids.ts";
import type { SpaceEnv } from "./env.ts";
import { unlessRefused } from "./ensure.ts";
import { agentNames } from "./roster.ts";

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
