/**
 * The inbox of one user in the data file: its messages with their short ids,
 * the sync token they were stored up to, what the agent sent, and the read
 * receipts readers leave for the daemon to post. Commands read and write the
 * same file from other processes. The daemon's own records are in
 * `daemon_records.ts`.
 */
import { DEFAULT_INBOX_RETENTION_MS } from "../defaults.ts";
import type { Deps } from "../deps.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";
import type { InboxMessage, PendingReceipt } from "./types.ts";
import { type UserKeys, userKeys } from "./keys.ts";

/** KV allows 10 keys per getMany and caps mutations per commit; stay well inside both. */
const READ_CHUNK = 10;
/**
 * A commit carries at most 800 KB: ten messages written whole, of up to 64 KB
 * each, stay under it (with three writes a message, the counter and the token,
 * also far under KV's cap on mutations).
 */
const WRITE_CHUNK = 10;

/**
 * A message as stored. Once read it carries the moment it may be forgotten:
 * KV deletes expired entries up to about a minute late, so readers go by this.
 */
interface StoredMessage extends InboxMessage {
  expiresAt?: number;
}

type ReceiptValue = Pick<PendingReceipt, "eventId" | "ts">;

/** An unread entry and the message it names, absent if the message is gone. */
interface Claim {
  entry: Deno.KvEntry<string>;
  message: InboxMessage | undefined;
}

/** A message this user sent: until when it is remembered, and where it went. */
interface SentRecord {
  expiresAt: number;
  roomId?: string;
  to?: string;
}

export class Store {
  readonly #kv: Deno.Kv;
  readonly #deps: Pick<Deps, "now" | "sleep" | "random">;
  readonly #keys: UserKeys;
  readonly #retentionMs: number;
  /**
   * Batches commit one after another: two at once that share an event (one
   * pushed, one synced) would both find it new, and store it twice. One
   * process writes an inbox (its lease), so this queue is the only one needed.
   */
  #commits: Promise<unknown> = Promise.resolve();

  /** Read messages are kept `retentionMs`; unread ones until they are read. */
  constructor(
    kv: Deno.Kv,
    deps: Pick<Deps, "now" | "sleep" | "random">,
    userId: string,
    retentionMs = DEFAULT_INBOX_RETENTION_MS,
  ) {
    this.#kv = kv;
    this.#deps = deps;
    this.#keys = userKeys(userId);
    this.#retentionMs = retentionMs;
  }

  async #get<T>(key: Deno.KvKey): Promise<T | undefined> {
    const entry = await withLockRetry(() => this.#kv.get<T>(key), this.#deps);
    return entry.value ?? undefined;
  }

  async #set(key: Deno.KvKey, value: unknown): Promise<void> {
    await commitWithRetry(() => this.#kv.atomic().set(key, value), this.#deps);
  }

  syncToken(): Promise<string | undefined> {
    return this.#get<string>(this.#keys.since);
  }

  /**
   * Stores the batch's new messages, then its sync token last: a crash in
   * between replays the batch on restart, and the event-id check drops what
   * was already stored, so nothing is lost and nothing doubled. A batch the
   * homeserver pushed has no token: it pushes the batch again until told it
   * is stored.
   *
   * The stored messages are that check's memory, and a read one is forgotten
   * after the retention, so the file does not grow for ever. The price: only
   * such a crash replays a batch, and a restart usually comes well inside the
   * shortest retention (a minute); a daemon left down for longer than the
   * retention would deliver again the messages of that one batch read meanwhile.
   *
   * Edits and withdrawals follow their message, before the token too (both
   * come out the same when replayed): an edit of an unread message replaces
   * its text, an edit of any other arrives as a message of its own that names
   * the original; a withdrawn message loses its text, and leaves the inbox if unread.
   */
  commitBatch(
    messages: InboxMessage[],
    nextBatch: string | undefined,
    withdrawn: string[] = [],
  ): Promise<number> {
    const committing = this.#commits.then(() => this.#commitNow(messages, nextBatch, withdrawn));
    this.#commits = committing.catch(() => {});
    return committing;
  }

  async #commitNow(
    messages: InboxMessage[],
    nextBatch: string | undefined,
    withdrawn: string[],
  ): Promise<number> {
    const fresh = await this.#unseen(messages);
    const edits = fresh.filter((m) => m.editOf !== undefined);
    const plain = fresh.filter((m) => m.editOf === undefined);
    if (edits.length === 0 && withdrawn.length === 0) return await this.#storeAll(plain, nextBatch);
    let added = await this.#storeAll(plain);
    const separate: InboxMessage[] = [];
    for (const edit of edits) if (await this.#edit(edit) === "separate") separate.push(edit);
    added += await this.#storeAll(separate);
    for (const eventId of withdrawn) await this.#withdraw(eventId);
    if (nextBatch !== undefined) await this.#set(this.#keys.since, nextBatch);
    return added;
  }

  /** Stores `messages` numbered, a chunk a commit; `nextBatch`, when given, with the last one. */
  async #storeAll(messages: InboxMessage[], nextBatch?: string): Promise<number> {
    let i = 0;
    do {
      const chunk = messages.slice(i, i += WRITE_CHUNK);
      if (chunk.length === 0 && nextBatch === undefined) break;
      await this.#storeNumbered(chunk, i >= messages.length ? nextBatch : undefined);
    } while (i < messages.length);
    return messages.length;
  }

  /**
   * Puts an edit's text into the message it edits while that one is unread;
   * otherwise the edit arrives as a message of its own ("separate"). An edit
   * by anyone but the original's sender is no edit, as the spec has it, and
   * is dropped. A reader taking the message meanwhile makes the check fail,
   * and the edit then arrives apart.
   */
  async #edit(edit: InboxMessage): Promise<"replaced" | "separate" | "dropped"> {
    for (;;) {
      const entry = await this.#messageEntry(edit.editOf!);
      const original = entry.value;
      if (original && original.sender !== edit.sender) return "dropped";
      if (!original || original.expiresAt !== undefined) return "separate";
      const edited: StoredMessage = {
        ...original,
        body: edit.body,
        msgtype: edit.msgtype,
        autoReply: edit.autoReply,
        edited: true,
      };
      const result = await commitWithRetry(
        () => this.#kv.atomic().check(entry).set(entry.key, edited),
        this.#deps,
      );
      if (result.ok) return "replaced";
    }
  }

  /** Takes the text out of a withdrawn message, and the message out of the inbox if unread. */
  async #withdraw(eventId: string): Promise<void> {
    for (;;) {
      const entry = await this.#messageEntry(eventId);
      const message = entry.value;
      if (!message || message.withdrawn) return;
      const expiresAt = message.expiresAt ?? this.#deps.now() + this.#retentionMs;
      const expireIn = Math.max(1, expiresAt - this.#deps.now());
      const withdrawn: StoredMessage = { ...message, body: "", withdrawn: true, expiresAt };
      const result = await commitWithRetry(() => {
        const op = this.#kv.atomic().check(entry)
          .set(entry.key, withdrawn, { expireIn })
          .delete(this.#keys.unread(message.ts, message.eventId));
        if (message.id !== undefined) {
          op.set(this.#keys.short(message.id), message.eventId, { expireIn });
        }
        return op;
      }, this.#deps);
      if (result.ok) return;
    }
  }

  /**
   * Stores messages under the next short ids, in the commit that moves the
   * counter: the check on the counter means no two messages ever share a number.
   */
  async #storeNumbered(messages: InboxMessage[], nextBatch: string | undefined): Promise<void> {
    const counterKey = this.#keys.shortCounter;
    for (;;) {
      const counter = await withLockRetry(() => this.#kv.get<number>(counterKey), this.#deps);
      const last = counter.value ?? 0;
      const result = await commitWithRetry(() => {
        const op = this.#kv.atomic().check(counter).set(counterKey, last + messages.length);
        messages.forEach((m, i) => {
          const id = last + i + 1;
          op.set(this.#keys.message(m.eventId), { ...m, id })
            .set(this.#keys.unread(m.ts, m.eventId), m.eventId)
            .set(this.#keys.short(id), m.eventId);
        });
        if (nextBatch !== undefined) op.set(this.#keys.since, nextBatch);
        return op;
      }, this.#deps);
      if (result.ok) return;
    }
  }

  async #unseen(messages: InboxMessage[]): Promise<InboxMessage[]> {
    const unique = [...new Map(messages.map((m) => [m.eventId, m])).values()];
    const fresh: InboxMessage[] = [];
    for (let i = 0; i < unique.length; i += READ_CHUNK) {
      const chunk = unique.slice(i, i + READ_CHUNK);
      const entries = await withLockRetry(
        () => this.#kv.getMany<StoredMessage[]>(chunk.map((m) => this.#keys.message(m.eventId))),
        this.#deps,
      );
      chunk.forEach((m, j) => this.#forgotten(entries[j]) && fresh.push(m));
    }
    return fresh;
  }

  #forgotten(entry: Deno.KvEntryMaybe<StoredMessage>): boolean {
    const expiresAt = entry.value?.expiresAt;
    return entry.value === null || (expiresAt !== undefined && expiresAt <= this.#deps.now());
  }

  /** Unread messages, oldest first by the server's clock; reading them takes nothing. */
  async unread(limit = Infinity): Promise<InboxMessage[]> {
    const entries = await this.#unreadEntries(limit);
    const messages = await this.#messages(entries);
    return messages.filter((m) => m !== undefined);
  }

  /**
   * Takes up to `limit` unread messages, oldest first, for this reader alone.
   * Each unread key is deleted only if its versionstamp is still the one read,
   * so of several processes reaching for one message exactly one commit wins;
   * a loser skips that message and reads on. What is taken is the reader's to
   * hand over (`handedOver`) or to give back (`putBack`).
   */
  async claim(limit = Infinity): Promise<InboxMessage[]> {
    const claimed: InboxMessage[] = [];
    while (claimed.length < limit) {
      const entries = await this.#unreadEntries(Math.min(limit - claimed.length, WRITE_CHUNK));
      if (entries.length === 0) break;
      const messages = await this.#messages(entries);
      const pairs = entries.map((entry, i) => ({ entry, message: messages[i] }));
      // One commit per chunk while no one else reads; after a conflict, one per message,
      // so the messages nobody else took are still ours.
      const won = await this.#take(pairs) ? pairs : await this.#takeEach(pairs);
      for (const { message } of won) if (message) claimed.push(message);
    }
    return claimed;
  }

  /**
   * Added for briefings (src/ops/briefing.ts), which leave some unread messages
   * and take later ones: takes exactly these messages, with the same one-reader
   * guarantee as `claim`, and returns the ones this reader won. A message that
   * another reader took first, or that was never unread, is left out.
   */
  async claimMessages(messages: InboxMessage[]): Promise<InboxMessage[]> {
    const claimed: InboxMessage[] = [];
    for (let i = 0; i < messages.length; i += WRITE_CHUNK) {
      const chunk = messages.slice(i, i + WRITE_CHUNK);
      const entries = await withLockRetry(
        () => this.#kv.getMany<string[]>(chunk.map((m) => this.#keys.unread(m.ts, m.eventId))),
        this.#deps,
      );
      const pairs = chunk.flatMap((message, j): Claim[] => {
        const entry = entries[j];
        return entry.versionstamp === null ? [] : [{ entry, message }];
      });
      const won = await this.#take(pairs) ? pairs : await this.#takeEach(pairs);
      for (const { message } of won) claimed.push(message!);
    }
    return claimed;
  }

  async #takeEach(pairs: Claim[]): Promise<Claim[]> {
    const won: Claim[] = [];
    for (const pair of pairs) if (await this.#take([pair])) won.push(pair);
    return won;
  }

  async #take(pairs: Claim[]): Promise<boolean> {
    const result = await commitWithRetry(() => {
      const op = this.#kv.atomic();
      for (const { entry, message } of pairs) {
        op.check(entry).delete(entry.key);
        if (message) this.#expire(op, message);
      }
      return op;
    }, this.#deps);
    return result.ok;
  }

  async #unreadEntries(limit: number): Promise<Deno.KvEntry<string>[]> {
    if (limit <= 0) return [];
    return await withLockRetry(async () => {
      const entries: Deno.KvEntry<string>[] = [];
      const list = this.#kv.list<string>({ prefix: this.#keys.unreadPrefix });
      for await (const entry of list) {
        entries.push(entry);
        if (entries.length >= limit) break;
      }
      return entries;
    }, this.#deps);
  }

  async #messages(entries: Deno.KvEntry<string>[]): Promise<(InboxMessage | undefined)[]> {
    const messages: (InboxMessage | undefined)[] = [];
    for (let i = 0; i < entries.length; i += READ_CHUNK) {
      const chunk = entries.slice(i, i + READ_CHUNK);
      const found = await withLockRetry(
        () => this.#kv.getMany<InboxMessage[]>(chunk.map((e) => this.#keys.message(e.value))),
        this.#deps,
      );
      messages.push(...found.map((entry) => entry.value ?? undefined));
    }
    return messages;
  }

  async markRead(messages: InboxMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += WRITE_CHUNK) {
      const chunk = messages.slice(i, i + WRITE_CHUNK);
      await commitWithRetry(() => {
        const op = this.#kv.atomic();
        for (const m of chunk) this.#expire(op.delete(this.#keys.unread(m.ts, m.eventId)), m);
        return op;
      }, this.#deps);
    }
    await this.handedOver(messages);
  }

  /**
   * Taken messages that reached their reader: the people in their rooms are to
   * see them read, so a receipt is noted for the daemon to post.
   */
  async handedOver(messages: InboxMessage[]): Promise<void> {
    await this.#noteReceipts(messages);
  }

  /**
   * Unread messages a reader was shown in part (a briefing cut them short):
   * they stay unread for `inbox` and `wait`, but no briefing shows them again.
   * A message read meanwhile is left as it is.
   */
  async markBriefed(messages: InboxMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += READ_CHUNK) {
      const keys = messages.slice(i, i + READ_CHUNK).map((m) => this.#keys.message(m.eventId));
      const entries = await withLockRetry(
        () => this.#kv.getMany<StoredMessage[]>(keys),
        this.#deps,
      );
      for (const entry of entries) {
        if (!entry.value || entry.value.expiresAt !== undefined) continue;
        const value = { ...entry.value, briefed: true };
        await commitWithRetry(
          () => this.#kv.atomic().check(entry).set(entry.key, value),
          this.#deps,
        );
      }
    }
  }

  /**
   * Taken messages that never reached their reader (the call was cancelled,
   * or its answer could not be written): unread again, kept until read, and
   * under the same short ids, as if never taken.
   */
  async putBack(messages: InboxMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += WRITE_CHUNK) {
      const chunk = messages.slice(i, i + WRITE_CHUNK);
      await commitWithRetry(() => {
        const op = this.#kv.atomic();
        for (const m of chunk) {
          op.set(this.#keys.unread(m.ts, m.eventId), m.eventId).set(
            this.#keys.message(m.eventId),
            m,
          );
          if (m.id !== undefined) op.set(this.#keys.short(m.id), m.eventId);
        }
        return op;
      }, this.#deps);
    }
  }

  /**
   * Adds to `op` the rewrite of a message just read, and of its short id, so
   * that both expire after the retention.
   */
  #expire(op: Deno.AtomicOperation, message: InboxMessage): void {
    const stored: StoredMessage = { ...message, expiresAt: this.#deps.now() + this.#retentionMs };
    op.set(this.#keys.message(message.eventId), stored, { expireIn: this.#retentionMs });
    if (message.id !== undefined) {
      op.set(this.#keys.short(message.id), message.eventId, { expireIn: this.#retentionMs });
    }
  }

  /**
   * Notes an event this user sent, for `retentionMs`: a reply to it is meant
   * for this user, wherever it is posted, even when it does not mention it.
   */
  async rememberSent(eventId: string, where: { roomId: string; to: string }): Promise<void> {
    await commitWithRetry(
      () =>
        this.#kv.atomic().set(
          this.#keys.sent(eventId),
          { expiresAt: this.#deps.now() + this.#retentionMs, ...where } satisfies SentRecord,
          { expireIn: this.#retentionMs },
        ),
      this.#deps,
    );
  }

  /** Where a message this user sent went, while it is remembered. */
  async sentMessage(
    eventId: string,
  ): Promise<{ eventId: string; roomId: string; to: string } | undefined> {
    const entry = await withLockRetry(
      () => this.#kv.get<SentRecord>(this.#keys.sent(eventId)),
      this.#deps,
    );
    const record = entry.value;
    // Records written before deliveries were tracked say only that it was sent, not where.
    if (!record || record.expiresAt <= this.#deps.now() || record.roomId === undefined) {
      return undefined;
    }
    return { eventId, roomId: record.roomId, to: record.to ?? "" };
  }

  /** Which of `eventIds` this user sent, as far as `rememberSent` was told. */
  async sentOf(eventIds: string[]): Promise<Set<string>> {
    const unique = [...new Set(eventIds)];
    const sent = new Set<string>();
    for (let i = 0; i < unique.length; i += READ_CHUNK) {
      const chunk = unique.slice(i, i + READ_CHUNK);
      const entries = await withLockRetry(
        () => this.#kv.getMany<{ expiresAt: number }[]>(chunk.map((id) => this.#keys.sent(id))),
        this.#deps,
      );
      entries.forEach((entry, j) => {
        if (entry.value && entry.value.expiresAt > this.#deps.now()) sent.add(chunk[j]);
      });
    }
    return sent;
  }

  /** The stored record of a message, read or not, with its version for a checked rewrite. */
  #messageEntry(eventId: string): Promise<Deno.KvEntryMaybe<StoredMessage>> {
    return withLockRetry(
      () => this.#kv.get<StoredMessage>(this.#keys.message(eventId)),
      this.#deps,
    );
  }

  /** A message still kept, read or not, by its short id or its event id. */
  async message(ref: number | string): Promise<InboxMessage | undefined> {
    const eventId = typeof ref === "number" ? await this.#get<string>(this.#keys.short(ref)) : ref;
    if (eventId === undefined) return undefined;
    const entry = await this.#messageEntry(eventId);
    if (this.#forgotten(entry)) return undefined;
    const { expiresAt: _, ...message } = entry.value!;
    return message;
  }

  /**
   * Leaves, per room, the latest message read as a receipt for the daemon to
   * post: readers never call the homeserver, so reading works while it is away.
   */
  async #noteReceipts(messages: InboxMessage[]): Promise<void> {
    const latest = new Map<string, InboxMessage>();
    for (const m of messages) {
      const known = latest.get(m.roomId);
      if (!known || m.ts > known.ts) latest.set(m.roomId, m);
    }
    for (const m of latest.values()) await this.#noteReceipt(m);
  }

  /** Keeps the later receipt when another reader noted one for the room meanwhile. */
  async #noteReceipt(message: InboxMessage): Promise<void> {
    const key = this.#keys.receipt(message.roomId);
    for (;;) {
      const entry = await withLockRetry(() => this.#kv.get<ReceiptValue>(key), this.#deps);
      if (entry.value && entry.value.ts >= message.ts) return;
      const value: ReceiptValue = { eventId: message.eventId, ts: message.ts };
      const result = await commitWithRetry(
        () => this.#kv.atomic().check(entry).set(key, value),
        this.#deps,
      );
      if (result.ok) return;
    }
  }

  async pendingReceipts(): Promise<PendingReceipt[]> {
    return await withLockRetry(async () => {
      const receipts: PendingReceipt[] = [];
      for await (const entry of this.#kv.list<ReceiptValue>({ prefix: this.#keys.receiptPrefix })) {
        const roomId = entry.key[entry.key.length - 1] as string;
        receipts.push({ roomId, ...entry.value, versionstamp: entry.versionstamp });
      }
      return receipts;
    }, this.#deps);
  }

  /** Forgets a receipt once posted, unless a reader has noted a later one since. */
  async settleReceipt(receipt: PendingReceipt): Promise<void> {
    const key = this.#keys.receipt(receipt.roomId);
    await commitWithRetry(
      () => this.#kv.atomic().check({ key, versionstamp: receipt.versionstamp }).delete(key),
      this.#deps,
    );
  }
}
