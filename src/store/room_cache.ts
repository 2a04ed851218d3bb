/**
 * Room ids by agent name (and the lobby's and the Space's under keys no name
 * can be), remembered in Deno KV so a send need not resolve an alias every
 * time. Entries are hints: `withRoom` in lookup.ts forgets one that fails.
 */
import type { Sleep } from "../deps.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";
import { roomCacheKey } from "./keys.ts";

export const ROOM_CACHE_TTL_MS = 3_600_000;

export interface RoomCacheEntry {
  roomId: string;
  /** Wall-clock milliseconds after which the entry is a miss. */
  expiresAt: number;
}

export interface RoomCacheDeps {
  now: () => number;
  sleep: Sleep;
  random: () => number;
}

export interface RoomCacheOptions {
  /** Keeps homeservers and room prefixes apart, e.g. `"https://hs.example|agents"`. */
  namespace: string;
  ttlMs?: number;
}

/** The stored value when well formed; anything else reads as a miss. */
function parseEntry(value: unknown): RoomCacheEntry | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { roomId, expiresAt } = value as Record<string, unknown>;
  if (typeof roomId !== "string" || typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
    return undefined;
  }
  return { roomId, expiresAt };
}

export class RoomCache {
  readonly #kv: Deno.Kv;
  readonly #deps: RoomCacheDeps;
  readonly #namespace: string;
  readonly #ttlMs: number;

  constructor(kv: Deno.Kv, deps: RoomCacheDeps, options: RoomCacheOptions) {
    this.#kv = kv;
    this.#deps = deps;
    this.#namespace = options.namespace;
    this.#ttlMs = options.ttlMs ?? ROOM_CACHE_TTL_MS;
  }

  #key(name: string): Deno.KvKey {
    return roomCacheKey(this.#namespace, name);
  }

  async get(name: string): Promise<RoomCacheEntry | undefined> {
    const { value } = await withLockRetry(() => this.#kv.get(this.#key(name)), this.#deps);
    const entry = parseEntry(value);
    // KV drops expired keys up to a minute late, so the stored deadline decides.
    return entry && entry.expiresAt > this.#deps.now() ? entry : undefined;
  }

  async set(name: string, roomId: string): Promise<void> {
    const entry: RoomCacheEntry = { roomId, expiresAt: this.#deps.now() + this.#ttlMs };
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
