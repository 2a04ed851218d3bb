/**
 * A fleet's events as the homeserver pushes them to its application service,
 * handed to each agent as its own sync would have: the events of the rooms
 * it is joined to, in order. A transaction is applied once and acknowledged
 * only when every agent it concerns has committed what it took from it.
 *
 * The feed also keeps when the homeserver was last seen failing: a homeserver
 * whose database fails while it makes a transaction drops that transaction's
 * events (Synapse logs "Error creating appservice transaction" and sends no
 * other sign), so each agent then catches up from the room history itself.
 */
import pMap from "p-map";
import type { MatrixEvent } from "../matrix/types.ts";
import type { AppliedTransactions } from "../store/applied_transactions.ts";
import type { FleetBoot } from "./fleet_boot.ts";

/** A batch for one agent: each room's events, in the order the homeserver pushed them. */
export type RoomEvents = [roomId: string, events: MatrixEvent[]][];

/** Resolves once the agent has committed the batch to its inbox. */
export type Deliver = (rooms: RoomEvents) => Promise<void>;

/** Agents committing one transaction at once: more only queue on the data file's lock. */
export const DELIVERIES_AT_ONCE = 16;

interface Agent {
  deliver: Deliver;
}

export interface AppserviceFeedOptions {
  applied: AppliedTransactions;
  /**
   * Opens once every agent of the fleet has attached or will not (see
   * FleetBoot): until then a member of a pushed room may be missing.
   */
  attached: FleetBoot;
  /** Ends the wait for the gate when the fleet stops. */
  signal: AbortSignal;
  now: () => number;
}

export class AppserviceFeed {
  readonly #options: AppserviceFeedOptions;
  readonly #agents = new Map<string, Agent>();
  /** The fleet's agents joined to each room, kept from their join and leave events. */
  readonly #members = new Map<string, Set<string>>();
  /** Transactions apply one after another, as the homeserver sends them. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The highest numbered transaction this process applied: Synapse numbers them 1, 2, 3… */
  #lastNumber: number | undefined;
  /** The transaction last refused for coming early: refused once only. */
  #refused: string | undefined;
  /** When the homeserver last reached the service: its proof of life, as a sync is an agent's. */
  #heardAt: number | null = null;
  /** When a request of the fleet last failed at the homeserver or on the way to it. */
  #troubleAt: number | null = null;

  constructor(options: AppserviceFeedOptions) {
    this.#options = options;
  }

  /**
   * Agent `userId`, joined to `rooms`, takes its events from now on; the
   * returned function ends that. `name` is what the fleet's gate knows it by.
   */
  attach(name: string, userId: string, rooms: Iterable<string>, deliver: Deliver): () => void {
    const agent = { deliver };
    this.#agents.set(userId, agent);
    for (const roomId of rooms) this.#join(roomId, userId);
    this.#options.attached.arrive(name);
    return () => {
      if (this.#agents.get(userId) === agent) this.#agents.delete(userId);
    };
  }

  /** Agent `name` stopped, or will never attach: the gate waits for it no longer. */
  leave(name: string): void {
    this.#options.attached.arrive(name);
  }

  /** The homeserver reached the service with its token. */
  heard = (): void => {
    this.#heardAt = this.#options.now();
  };

  get heardAt(): number | null {
    return this.#heardAt;
  }

  get troubleAt(): number | null {
    return this.#troubleAt;
  }

  /**
   * `fetch`, noting the homeserver in trouble whenever a request through it
   * fails on the way or with a 5xx: the fleet's requests are its probes.
   */
  watch(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
    const troubled = () => this.#troubleAt = this.#options.now();
    return async (input, init) => {
      try {
        const response = await fetch(input, init);
        if (response.status >= 500) troubled();
        return response;
      } catch (err) {
        // A request the fleet called off (a stop, a long-poll ended) says nothing of the homeserver.
        if ((err as Error).name !== "AbortError") troubled();
        throw err;
      }
    };
  }

  /** Applies a pushed transaction once; resolves when every inbox it reaches holds its part. */
  apply = (txnId: string, events: MatrixEvent[]): Promise<void> => {
    const applying = this.#queue.then(() => this.#applyOnce(txnId, events));
    this.#queue = applying.catch(() => {});
    return applying;
  };

  async #applyOnce(txnId: string, events: MatrixEvent[]): Promise<void> {
    const { applied, attached, signal } = this.#options;
    await attached.passed(signal);
    if (await applied.has(txnId)) return;
    const number = /^\d+$/.test(txnId) ? Number(txnId) : undefined;
    const gap = number !== undefined && this.#lastNumber !== undefined &&
      number > this.#lastNumber + 1;
    // Pushed again by the recovery, which sends the oldest first: nothing older is waiting.
    if (gap && this.#refused !== txnId) {
      this.#refused = txnId;
      throw new TransactionHeldBack(this.#lastNumber! + 1, txnId);
    }
    const batches = this.#split(events);
    await pMap(
      batches,
      ([userId, rooms]) => this.#agents.get(userId)?.deliver(rooms),
      { concurrency: DELIVERIES_AT_ONCE },
    );
    await applied.add(txnId);
    if (number !== undefined) this.#lastNumber = Math.max(this.#lastNumber ?? 0, number);
  }

  /** Each attached agent's share of `events`: those of the rooms it is joined to when they come. */
  #split(events: MatrixEvent[]): [string, RoomEvents][] {
    const shares = new Map<string, Map<string, MatrixEvent[]>>();
    for (const event of events) {
      const roomId = event.room_id;
      if (typeof roomId !== "string") continue;
      this.#follow(roomId, event);
      for (const userId of this.#members.get(roomId) ?? []) {
        const rooms = shares.get(userId) ?? new Map<string, MatrixEvent[]>();
        shares.set(userId, rooms);
        const list = rooms.get(roomId) ?? [];
        rooms.set(roomId, list);
        list.push(event);
      }
    }
    return [...shares].map(([userId, rooms]) => [userId, [...rooms]]);
  }

  /** A join or a leave of one of the fleet's agents. */
  #follow(roomId: string, event: MatrixEvent): void {
    const userId = event.state_key;
    if (event.type !== "m.room.member" || userId === undefined || !this.#agents.has(userId)) return;
    if (event.content.membership === "join") this.#join(roomId, userId);
    else this.#members.get(roomId)?.delete(userId);
  }

  #join(roomId: string, userId: string): void {
    const members = this.#members.get(roomId) ?? new Set<string>();
    this.#members.set(roomId, members);
    members.add(userId);
  }
}

/**
 * A transaction came before one the homeserver numbered earlier. Synapse can
 * store a transaction while it still counts the service as down and then end
 * its recovery without sending it; that one waits for the next failure. This
 * error is that failure: the homeserver's recovery pushes the oldest first.
 */
export class TransactionHeldBack extends Error {
  constructor(missing: number, txnId: string) {
    super(
      `transaction ${txnId} came before ${missing}; refused, so that the homeserver pushes ${missing} first`,
    );
    this.name = "TransactionHeldBack";
  }
}
