/**
 * Every record of the data file, by key: nothing outside this file spells
 * one. The file is shared by every process of a data directory (daemons,
 * readers, senders), so its layout is a contract between versions of cchat:
 * `FORMAT_VERSION` names it, and `open.ts` stamps and checks it.
 *
 * | key                                        | record                                   | lifetime                       |
 * | ------------------------------------------ | ---------------------------------------- | ------------------------------ |
 * | `format`                                   | the layout's version                     | for good                       |
 * | `token-user`, digest                       | the user a token belongs to              | for good                       |
 * | `rate-gate`, digest                        | when the server lets a token send again  | until then                     |
 * | `room-cache`, namespace, name              | a room id, by agent name or `#lobby`...  | one hour                       |
 * | `user`, id, `sync`, `since`                | the sync token, saved with its batch     | for good                       |
 * | `user`, id, `sync`, `filter`, hash         | an uploaded filter's id                  | for good                       |
 * | `user`, id, `msg`, event id                | a message                                | unread: kept; read: retention  |
 * | `user`, id, `unread`, ts, event id         | the unread index, oldest first           | until taken                    |
 * | `user`, id, `short`, n                     | short id → event id                      | as its message                 |
 * | `user`, id, `counter`, `short`             | the last short id given                  | for good                       |
 * | `user`, id, `sent`, event id               | a message this agent sent                | retention                      |
 * | `user`, id, `receipt`, room id             | a read receipt for the daemon to post    | until posted                   |
 * | `user`, id, `daemon`                       | the daemon's status                      | for good                       |
 * | `user`, id, `lease`, `sync`                | who holds the sync loop                  | its lease's term               |
 * | `appservice`, id, `txn`, transaction id    | a transaction applied and acknowledged   | a week                         |
 */

/** The layout described above. 1: the files written before the layout had a version. */
export const FORMAT_VERSION = 2;

export const FORMAT_KEY: Deno.KvKey = ["format"];

export const tokenUserKey = (tokenDigest: string): Deno.KvKey => ["token-user", tokenDigest];

export const rateGateKey = (tokenDigest: string): Deno.KvKey => ["rate-gate", tokenDigest];

export const roomCacheKey = (namespace: string, name: string): Deno.KvKey => [
  "room-cache",
  namespace,
  name,
];

export const appliedTransactionKey = (serviceId: string, txnId: string): Deno.KvKey => [
  "appservice",
  serviceId,
  "txn",
  txnId,
];

/** The records of one user. */
export function userKeys(userId: string) {
  const root = ["user", userId];
  return {
    since: [...root, "sync", "since"],
    filter: (filterHash: string): Deno.KvKey => [...root, "sync", "filter", filterHash],
    message: (eventId: string): Deno.KvKey => [...root, "msg", eventId],
    unread: (ts: number, eventId: string): Deno.KvKey => [...root, "unread", ts, eventId],
    unreadPrefix: [...root, "unread"],
    short: (id: number): Deno.KvKey => [...root, "short", id],
    shortCounter: [...root, "counter", "short"],
    sent: (eventId: string): Deno.KvKey => [...root, "sent", eventId],
    receipt: (roomId: string): Deno.KvKey => [...root, "receipt", roomId],
    receiptPrefix: [...root, "receipt"],
    daemon: [...root, "daemon"],
    syncLease: [...root, "lease", "sync"],
  } satisfies Record<string, Deno.KvKey | ((...parts: never[]) => Deno.KvKey)>;
}

export type UserKeys = ReturnType<typeof userKeys>;
