/**
 * The daemon's own records of one user, beside the inbox in the same file:
 * its status for `cchat status`, the ids of the filters it uploaded, and the
 * lease that keeps one sync loop per user.
 */
import type { Deps } from "../deps.ts";
import { type UserKeys, userKeys } from "./keys.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";
import { Lease, type LeaseDeps } from "./lease.ts";
import type { DaemonStatus } from "./types.ts";

export class DaemonRecords {
  readonly #kv: Deno.Kv;
  readonly #deps: Pick<Deps, "sleep" | "random">;
  readonly #keys: UserKeys;

  constructor(kv: Deno.Kv, deps: Pick<Deps, "sleep" | "random">, userId: string) {
    this.#kv = kv;
    this.#deps = deps;
    this.#keys = userKeys(userId);
  }

  async #get<T>(key: Deno.KvKey): Promise<T | undefined> {
    const entry = await withLockRetry(() => this.#kv.get<T>(key), this.#deps);
    return entry.value ?? undefined;
  }

  async #set(key: Deno.KvKey, value: unknown): Promise<void> {
    await commitWithRetry(() => this.#kv.atomic().set(key, value), this.#deps);
  }

  /** The id the server gave the filter of this content, when it was uploaded before. */
  filterId(filterHash: string): Promise<string | undefined> {
    return this.#get<string>(this.#keys.filter(filterHash));
  }

  saveFilterId(filterHash: string, filterId: string): Promise<void> {
    return this.#set(this.#keys.filter(filterHash), filterId);
  }

  status(): Promise<DaemonStatus | undefined> {
    return this.#get<DaemonStatus>(this.#keys.daemon);
  }

  saveStatus(status: DaemonStatus): Promise<void> {
    return this.#set(this.#keys.daemon, status);
  }

  /** The lease that keeps one sync loop per user, whichever process runs it. */
  syncLease(deps: LeaseDeps): Lease {
    return new Lease(this.#kv, this.#keys.syncLease, "sync loop", deps);
  }
}
