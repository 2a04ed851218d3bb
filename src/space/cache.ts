/**
 * Agent name -> room, remembered in Deno KV so a send need not walk the Space
 * every time. Entries are hints: a caller that finds one wrong deletes it.
 */
import type { Sleep } from "../deps.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";

export const AGENT_CACHE_TTL_MS = 3_600_000;

export interface CachedAgent {
  roomId: string;
  userId?: string;
}

export interface AgentCacheEntry extends CachedAgent {
  /** Wall-clock milliseconds after which the entry is a miss. */
  expiresAt: number;
}

export interface AgentCacheDeps {
  now: () => number;
  sleep: Sleep;
  random: () => number;
}

export interface AgentCacheOptions {
  /** Keeps homeservers and room prefixes apart, e.g. `"https://hs.example|agents"`. */
  namespace: string;
  ttlMs?: number;
}

/** The stored value when well formed; anything else reads as a miss. */
function parseEntry(value: unknown): AgentCacheEntry | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { roomId, userId, expiresAt } = value as Record<string, unknown>;
  if (typeof roomId !== "string" || typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
    return undefined;
  }
  if (userId === undefined) return { roomId, expiresAt };
  return typeof userId === "string" ? { roomId, userId, expiresAt } : undefined;
}

export class AgentCache {
  readonly #kv: Deno.Kv;
  readonly #deps: AgentCacheDeps;
  readonly #namespace: string;
  readonly #ttlMs: number;

  constructor(kv: Deno.Kv, deps: AgentCacheDeps, options: AgentCacheOptions) {
    this.#kv = kv;
    this.#deps = deps;
    this.#namespace = options.namespace;
    this.#ttlMs = options.ttlMs ?? AGENT_CACHE_TTL_MS;
  }

  #key(name: string): Deno.KvKey {
    return ["agent-cache", this.#namespace, name];
  }

  async get(name: string): Promise<AgentCacheEntry | undefined> {
    const { value } = await withLockRetry(() => this.#kv.get(this.#key(name)), this.#deps);
    const entry = parseEntry(value);
    // KV drops expired keys up to a minute late, so the stored deadline decides.
    return entry && entry.expiresAt > this.#deps.now() ? entry : undefined;
  }

  async set(name: string, agent: CachedAgent): Promise<void> {
    const entry: AgentCacheEntry = {
      roomId: agent.roomId,
      ...(agent.userId === undefined ? {} : { userId: agent.userId }),
      expiresAt: this.#deps.now() + this.#ttlMs,
    };
    // Without checks the commit cannot report a conflict, so its result says nothing.
    await commitWithRetry(
      () => this.#kv.atomic().set(this.#key(name), entry, { expireIn: this.#ttlMs }),
      this.#deps,
    );
  }

  async delete(name: string): Promise<void> {
    await withLockRetry(() => this.#kv.delete(this.#key(name)), this.#deps);
  }
}
