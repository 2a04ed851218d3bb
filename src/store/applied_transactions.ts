/**
 * The transactions an application service has applied: the homeserver pushes
 * one again until it hears back, so one already applied is only acknowledged.
 */
import type { Deps } from "../deps.ts";
import { appliedTransactionKey } from "./keys.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";

/**
 * Longer than a homeserver keeps retrying a service that is down; past it a
 * repeat would still add nothing, as the inbox keeps each event once.
 */
export const TRANSACTION_MEMORY_MS = 7 * 24 * 60 * 60 * 1000;

interface Applied {
  expiresAt: number;
}

export class AppliedTransactions {
  readonly #kv: Deno.Kv;
  readonly #deps: Pick<Deps, "now" | "sleep" | "random">;
  readonly #serviceId: string;

  constructor(kv: Deno.Kv, deps: Pick<Deps, "now" | "sleep" | "random">, serviceId: string) {
    this.#kv = kv;
    this.#deps = deps;
    this.#serviceId = serviceId;
  }

  async has(txnId: string): Promise<boolean> {
    const key = appliedTransactionKey(this.#serviceId, txnId);
    const entry = await withLockRetry(() => this.#kv.get<Applied>(key), this.#deps);
    // KV lets a record outlive its expiry for a while: the stored time decides.
    return entry.value !== null && entry.value.expiresAt > this.#deps.now();
  }

  async add(txnId: string): Promise<void> {
    const key = appliedTransactionKey(this.#serviceId, txnId);
    const value: Applied = { expiresAt: this.#deps.now() + TRANSACTION_MEMORY_MS };
    await commitWithRetry(
      () => this.#kv.atomic().set(key, value, { expireIn: TRANSACTION_MEMORY_MS }),
      this.#deps,
    );
  }
}
