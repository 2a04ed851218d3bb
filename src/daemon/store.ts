/**
 * What the daemon keeps in Deno KV for one user: the inbox, the sync token and
 * its own status. Commands read the same file from other processes.
 */
import type { Deps } from "../deps.ts";
import { commitWithRetry, withLockRetry } from "../kv.ts";
import { Lease, type LeaseDeps } from "./lease.ts";
import type { DaemonStatus, InboxMessage } from "./types.ts";

/** KV allows 10 keys per getMany and caps mutations per commit; stay well inside both. */
const READ_CHUNK = 10;
const WRITE_CHUNK = 100;

export class Store {
  readonly #kv: Deno.Kv;
  readonly #deps: Pick<Deps, "sleep" | "random">;
  readonly #root: Deno.KvKey;

  constructor(kv: Deno.Kv, deps: Pick<Deps, "sleep" | "random">, userId: string) {
    this.#kv = kv;
    this.#deps = deps;
    this.#root = ["user", userId];
  }

  #key(...parts: Deno.KvKeyPart[]): Deno.KvKey {
    return [...this.#root, ...parts];
  }

  async #get<T>(key: Deno.KvKey): Promise<T | undefined> {
    const entry = await withLockRetry(() => this.#kv.get<T>(key), this.#deps);
    return entry.value ?? undefined;
  }

  async #set(key: Deno.KvKey, value: unknown): Promise<void> {
    await commitWithRetry(() => this.#kv.atomic().set(key, value), this.#deps);
  }

  syncToken(): Promise<string | undefined> {
    return this.#get<string>(this.#key("sync", "since"));
  }

  filterId(filterHash: string): Promise<string | undefined> {
    return this.#get<string>(this.#key("sync", "filter", filterHash));
  }

  saveFilterId(filterHash: string, filterId: string): Promise<void> {
    return this.#set(this.#key("sync", "filter", filterHash), filterId);
  }

  /**
   * Stores the batch's new messages, then its sync token last: a crash in
   * between replays the batch on restart, and the event-id check drops what
   * was already stored, so nothing is lost and nothing doubled.
   */
  async commitBatch(messages: InboxMessage[], nextBatch: string): Promise<number> {
    const fresh = await this.#unseen(messages);
    const writes: [Deno.KvKey, unknown][] = fresh.flatMap((m) => [
      [this.#key("msg", m.eventId), m],
      [this.#key("unread", m.ts, m.eventId), m.eventId],
    ]);
    writes.push([this.#key("sync", "since"), nextBatch]);
    for (let i = 0; i < writes.length; i += WRITE_CHUNK) {
      const chunk = writes.slice(i, i + WRITE_CHUNK);
      await commitWithRetry(() => {
        const op = this.#kv.atomic();
        for (const [key, value] of chunk) op.set(key, value);
        return op;
      }, this.#deps);
    }
    return fresh.length;
  }

  async #unseen(messages: InboxMessage[]): Promise<InboxMessage[]> {
    const unique = [...new Map(messages.map((m) => [m.eventId, m])).values()];
    const fresh: InboxMessage[] = [];
    for (let i = 0; i < unique.length; i += READ_CHUNK) {
      const chunk = unique.slice(i, i + READ_CHUNK);
      const entries = await withLockRetry(
        () => this.#kv.getMany(chunk.map((m) => this.#key("msg", m.eventId))),
        this.#deps,
      );
      chunk.forEach((m, j) => entries[j].versionstamp === null && fresh.push(m));
    }
    return fresh;
  }

  /** Unread messages, oldest first by the server's clock. */
  async unread(limit = Infinity): Promise<InboxMessage[]> {
    const ids: string[] = [];
    const list = this.#kv.list<string>({ prefix: this.#key("unread") });
    for await (const entry of list) {
      if (ids.length >= limit) break;
      ids.push(entry.value);
    }
    const messages: InboxMessage[] = [];
    for (const id of ids) {
      const message = await this.#get<InboxMessage>(this.#key("msg", id));
      if (message) messages.push(message);
    }
    return messages;
  }

  async markRead(messages: InboxMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += WRITE_CHUNK) {
      const chunk = messages.slice(i, i + WRITE_CHUNK);
      await commitWithRetry(() => {
        const op = this.#kv.atomic();
        for (const m of chunk) op.delete(this.#key("unread", m.ts, m.eventId));
        return op;
      }, this.#deps);
    }
  }

  daemonStatus(): Promise<DaemonStatus | undefined> {
    return this.#get<DaemonStatus>(this.#key("daemon"));
  }

  saveDaemonStatus(status: DaemonStatus): Promise<void> {
    return this.#set(this.#key("daemon"), status);
  }

  /** The lease that keeps one sync loop per user, whichever process runs it. */
  syncLease(deps: LeaseDeps): Lease {
    return new Lease(this.#kv, this.#key("lease", "sync"), "sync loop", deps);
  }
}
