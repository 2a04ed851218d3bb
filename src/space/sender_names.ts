/**
 * The agent names of the senders of new messages, for the daemon to store
 * with them: read from the Space, kept for a while, and asked again when a
 * sender is unknown, but not for every message of a person who has no name.
 */
import type { SpaceEnv } from "./env.ts";
import { agentNames } from "./roster.ts";

/** Names are read again after this long. */
export const SENDER_NAMES_TTL_MS = 5 * 60_000;
/** An unknown sender makes the names be read again, at most this often. */
export const UNKNOWN_SENDER_RETRY_MS = 30_000;

export class SenderNames {
  #names = new Map<string, string>();
  #readAt = -Infinity;

  constructor(private readonly env: SpaceEnv) {}

  /** The agent name of each of `userIds` that has one. A Space that cannot be read names nobody. */
  async of(userIds: string[]): Promise<Map<string, string>> {
    const age = this.env.deps.now() - this.#readAt;
    const unknown = userIds.some((userId) => !this.#names.has(userId));
    if (age > SENDER_NAMES_TTL_MS || (unknown && age > UNKNOWN_SENDER_RETRY_MS)) {
      this.#readAt = this.env.deps.now();
      try {
        const names = await agentNames(this.env);
        this.#names = new Map([...names].map(([name, userId]) => [userId, name]));
      } catch (err) {
        this.env.log.debug(`the agents' names could not be read: ${(err as Error).message}`);
      }
    }
    return new Map(userIds.flatMap((userId) => {
      const name = this.#names.get(userId);
      return name === undefined ? [] : [[userId, name]];
    }));
  }
}
