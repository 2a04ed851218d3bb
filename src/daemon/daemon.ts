/**
 * The long-running agent: boot (jitter, Space, lobby, own room), then a
 * filtered /sync loop that fills the inbox, and a heartbeat beside it. It
 * outlives a missing homeserver and rate limits, and says goodbye on shutdown.
 */
import { backoffMs } from "../backoff.ts";
import type { FleetBoot } from "./fleet_boot.ts";
import type { Deps } from "../deps.ts";
import { type Failure, failureOf, isTransient, MatrixError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { SyncResponse } from "../matrix/types.ts";
import type { SpaceEnv } from "../space/env.ts";
import { AGENT_SYNC_FILTER, INBOX_EVENT_TYPES, MARK_SYNC_FILTER } from "../space/filter.ts";
import { EVENT_SYNC_LOOP } from "../space/names.ts";
import { enter, type Membership } from "../space/registration.ts";
import { type HeartbeatIdentity, HeartbeatWriter } from "./heartbeat_writer.ts";
import { type Lease, LEASE_RENEW_MS, LeaseLostError, SyncLoopTakenError } from "../store/lease.ts";
import { flushReceipts } from "./receipts.ts";
import type { ChangeSignal } from "../store/change_signal.ts";
import { StatusTopic } from "./topic.ts";
import { AgentPlace } from "./agent_place.ts";
import type { AgentStatus } from "../space/agents.ts";
import { needsHtmlText } from "../matrix/message_text.ts";
import { SenderNames } from "../space/sender_names.ts";
import { repliedTo, route, type RouteContext } from "./route.ts";
import type { Store } from "../store/store.ts";
import type { AppserviceFeed, RoomEvents } from "./appservice_feed.ts";
import type { DaemonRecords } from "../store/daemon_records.ts";
import type { DaemonStatus, InboxMessage } from "../store/types.ts";

export interface DaemonOptions {
  space: SpaceEnv;
  store: Store;
  /** The daemon's status, filter ids and lease, beside the inbox. */
  records: DaemonRecords;
  /** Taken by the caller before `run`; the daemon renews it while it lives. */
  lease: Lease;
  identity: HeartbeatIdentity;
  /** Rung after messages are stored, so waiting readers look at once. */
  inbox?: ChangeSignal;
  /** Rung by readers after they left read receipts, so they are posted at once. */
  receipts?: ChangeSignal;
  /** Shared by the agents of one process that boot together: a few at a time, live together. */
  fleetBoot?: FleetBoot;
  /**
   * The events the homeserver pushes to the fleet's application service:
   * the agent takes its share from there and holds no /sync.
   */
  feed?: AppserviceFeed;
  syncTimeoutMs: number;
  ephemeral: boolean;
  allowedServers: string[];
  deps: Pick<Deps, "now" | "sleep" | "random">;
  log: Logger;
  pid: number;
}

/** Ephemeral agents wait up to this long before their first Space call, so a fleet boots spread out. */
export const STARTUP_JITTER_MAX_MS = 2000;

/** Retry waits grow to this and stay there while the homeserver is away. */
export const MAX_RETRY_DELAY_MS = 30_000;
/** Added at random to the wait a rate limit asked for, so agents refused together come back apart. */
export const RATE_LIMIT_JITTER_MS = 1_000;
/**
 * The goodbye (offline beat, topic) gets this long in all: a client
 * that went away must not leave its server running on, for example against
 * a homeserver that does not answer.
 */
export const GOODBYE_MS = 3_000;
/** Pending read receipts are looked at this often even when no reader rang. */
export const RECEIPT_POLL_MS = 5_000;
/**
 * An agent fed by its fleet's application service also syncs once in this many
 * sync timeouts on average, as a net for events the homeserver failed to push
 * and gave no sign of; at once after any sign of trouble. A tenth of a sync
 * loop's calls.
 */
export const CATCH_UP_SYNC_TIMEOUTS = 10;
const FILTER_KEY = JSON.stringify(AGENT_SYNC_FILTER);
const MARK_FILTER = JSON.stringify(MARK_SYNC_FILTER);

export class Daemon {
  readonly #options: DaemonOptions;
  readonly #heartbeat: HeartbeatWriter;
  readonly #topic: StatusTopic;
  #status: DaemonStatus;
  /** Aborted when another process took the lease: from then on the record and the room are its. */
  #lost = new AbortController();
  /** Tells this sync loop from any other of the account, whatever its data directory. */
  readonly #instance = crypto.randomUUID();
  /** When this loop recorded itself as the account's: only a later record ends it. */
  #claimedAt = 0;
  /** Who of the senders is an agent, and by which name: stored with each message. */
  readonly #senderNames: SenderNames;

  constructor(options: DaemonOptions) {
    this.#options = options;
    this.#senderNames = new SenderNames(options.space);
    this.#topic = new StatusTopic(options.space.client, options.identity.host, options.deps.now);
    this.#heartbeat = new HeartbeatWriter(options.space.client, options.identity, options.deps.now);
    this.#status = {
      pid: options.pid,
      host: options.identity.host,
      name: options.identity.name,
      startedAt: options.deps.now(),
      lastSyncAt: null,
      state: "booting",
      lastError: null,
      failure: null,
      spaceId: null,
      lobbyId: null,
      roomId: null,
      droppedSenders: 0,
      warnings: [],
    };
  }

  async #report(change: Partial<DaemonStatus>): Promise<void> {
    this.#status = { ...this.#status, ...change };
    await this.#options.records.saveStatus(this.#status);
  }

  /**
   * Runs until `signal` aborts, then writes a final offline beat. Ends early
   * with an error when the lease is lost, so two sync loops never run on.
   */
  async run(signal: AbortSignal): Promise<void> {
    const lost = this.#lost.signal;
    const holding = new AbortController();
    const renewing = this.#holdLease(holding.signal);
    const stop = AbortSignal.any([signal, lost]);
    try {
      await this.#report({ state: "booting" });
      const membership = await this.#boot(stop);
      if (membership && await this.#passGate(stop)) await this.#live(membership, stop);
      if (lost.aborted) throw lost.reason;
      // A clean stop: a failure it was retrying through is over, and no longer its state.
      await this.#report({ state: "stopped", lastError: null, failure: null });
    } catch (err) {
      // Taken over through the lease: the record is the new holder's now, not this one's to write.
      if (lost.reason instanceof LeaseLostError) throw err;
      await this.#report({
        state: "stopped",
        lastError: (err as Error).message,
        failure: failureOf(err),
      });
      throw err;
    } finally {
      holding.abort();
      await renewing;
    }
  }

  /**
   * Renews the lease on its own clock, apart from the long-poll and the boot,
   * so a daemon waiting on the server still shows as alive; and a crashed one
   * stops showing within one lease TTL.
   */
  async #holdLease(holding: AbortSignal): Promise<void> {
    const { lease, deps, log } = this.#options;
    while (!holding.aborted) {
      await deps.sleep(LEASE_RENEW_MS, holding).catch(() => {});
      if (holding.aborted) return;
      try {
        if (await lease.renew()) continue;
        log.warn("Another process took over this agent's sync loop; stopping.");
        return this.#lost.abort(
          new LeaseLostError(
            "This daemon lost the lease on its sync loop to another process.",
            'It was too slow to renew it (suspended?); "cchat status" shows the new holder.',
          ),
        );
      } catch (err) {
        // The next renewal may well succeed: the lease lasts three of them.
        log.warn(`Renewing the lease failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * The heartbeat and the read receipts beside the sync loop, then the
   * goodbye. The room's state is written by one step at a time (topic, then
   * beats): two writes at once would fork the room's history, and Element may
   * then show the older of the two.
   */
  async #live(membership: Membership, signal: AbortSignal): Promise<void> {
    // Only the agent's own room: a beat wakes every member of the room it lands in.
    const targets = [membership.beatRoomId ?? membership.directory.lobbyId];
    // Beats and receipts stop with the sync loop, whether that ends by a signal or by an error.
    const beside = new AbortController();
    const stopBeside = () => beside.abort();
    signal.addEventListener("abort", stopBeside, { once: true });
    const place = new AgentPlace(
      this.#options.space,
      membership,
      this.#options.log,
      (warning) => this.#report({ warnings: [...this.#status.warnings ?? [], warning] }),
    );
    await this.#claimAccount();
    await this.#showStatus(this.#topic, membership.roomId, "online");
    const beating = this.#beatLoop(targets, place, beside.signal);
    const receipting = this.#receiptLoop(beside.signal);
    try {
      await (this.#options.feed
        ? this.#feedLoop(this.#options.feed, membership, signal)
        : this.#syncLoop(membership, signal));
    } finally {
      beside.abort();
      signal.removeEventListener("abort", stopBeside);
      await Promise.all([beating, receipting]);
      // After a takeover the agent lives on in the new holder: no goodbye for it.
      if (!this.#lost.signal.aborted) await this.#goodbye(targets, membership.roomId);
    }
  }

  /**
   * Records in the account's data that this sync loop runs the account now.
   * Every other loop of the account syncs that record, whatever its data
   * directory (which the lease cannot see past), and stops: one loop per
   * account, the newest. One write per start, nothing in between.
   */
  async #claimAccount(): Promise<void> {
    const { space: { client }, identity, deps, log, pid } = this.#options;
    this.#claimedAt = deps.now();
    const claim = { instance: this.#instance, host: identity.host, pid, since: this.#claimedAt };
    try {
      await client.setAccountData(identity.userId, EVENT_SYNC_LOOP, claim);
    } catch (err) {
      log.warn(`Claiming the account's sync loop failed: ${(err as Error).message}`);
    }
  }

  /** Stops this loop when the batch says a newer one of the account claimed it elsewhere. */
  #checkClaim(response: SyncResponse): void {
    const claim = response.account_data?.events?.find((e) => e.type === EVENT_SYNC_LOOP)?.content;
    if (!claim || claim.instance === this.#instance) return;
    // An older record is no news: Synapse answers a sync that a killed predecessor left pending
    // (same token, same filter) from its response cache, with what that one saw.
    if (typeof claim.since !== "number" || claim.since <= this.#claimedAt) return;
    const since = new Date(claim.since).toISOString();
    this.#options.log.warn("Another sync loop of this account started; stopping.");
    this.#lost.abort(
      new SyncLoopTakenError(
        `Another sync loop of this account started: pid ${claim.pid} on ${claim.host}, since ${since}.`,
        "Only one daemon, or cchat mcp, runs per account, whatever its data directory: stop the other, or this one.",
      ),
    );
  }

  /** The room's topic says when the agent started or stopped; a failure costs only the topic. */
  async #showStatus(topic: StatusTopic, roomId: string | null, status: AgentStatus): Promise<void> {
    if (roomId === null) return;
    try {
      await topic.set(roomId, status);
    } catch (err) {
      this.#options.log.warn(`The room topic could not say "${status}": ${(err as Error).message}`);
    }
  }

  /** The offline beat, then the topic, within GOODBYE_MS whatever the server does. */
  async #goodbye(targets: string[], roomId: string | null): Promise<void> {
    const { deps, space, identity, log } = this.#options;
    const deadline = new AbortController();
    const done = new AbortController();
    const timer = deps.sleep(GOODBYE_MS, done.signal).then(
      () => deadline.abort(new Error(`no answer within ${GOODBYE_MS / 1000} s`)),
      () => {},
    );
    const client = space.client.withSignal(deadline.signal);
    try {
      try {
        await new HeartbeatWriter(client, identity, deps.now).beat(targets, "offline");
      } catch (err) {
        log.warn(`The final offline heartbeat failed: ${(err as Error).message}`);
      }
      await this.#showStatus(new StatusTopic(client, identity.host, deps.now), roomId, "offline");
    } finally {
      done.abort();
      await timer;
    }
  }

  /**
   * Posts the receipts readers leave, as soon as one rings (within a second
   * of a message being read, whatever the long-poll is doing), and every
   * RECEIPT_POLL_MS for those that failed or whose ring was lost.
   */
  async #receiptLoop(signal: AbortSignal): Promise<void> {
    const { space: { client }, store, deps, log, receipts } = this.#options;
    while (!signal.aborted) {
      const look = new AbortController();
      const stop = AbortSignal.any([look.signal, signal]);
      // A watch that fails (no notifications here) leaves the slow look to do the work.
      const rung = receipts?.changed(stop).then(() => true, () => false);
      try {
        await flushReceipts(client.withSignal(signal), store, log);
      } catch (err) {
        if (!signal.aborted) log.warn(`Posting read receipts failed: ${(err as Error).message}`);
      }
      const poll = deps.sleep(RECEIPT_POLL_MS, stop).catch(() => {});
      await Promise.race([rung?.then((ok) => ok ? undefined : poll) ?? poll, poll]);
      look.abort();
      await Promise.all([rung, poll]);
    }
  }

  /**
   * Boot steps are retried with backoff while the failure is transient;
   * undefined when stopped first. The signal ends every request and wait of
   * the boot, so a stop during a long rate-limit wait is not put off until it ends.
   */
  async #boot(signal: AbortSignal): Promise<Membership | undefined> {
    const { space, identity, ephemeral, log, fleetBoot } = this.#options;
    if (ephemeral) await this.startupJitter(signal).catch(() => {});
    const stoppable = { ...space, client: space.client.withSignal(signal) };
    const entering = () => enter(stoppable, identity.name, identity);
    const membership = await this.#retried(
      "Booting",
      () => fleetBoot?.attempt(entering) ?? entering(),
      signal,
    );
    if (membership === undefined || signal.aborted) return undefined;
    const { directory, roomId, refused } = membership;
    await this.#report({
      spaceId: directory.spaceId,
      lobbyId: directory.lobbyId,
      roomId,
      lastError: null,
      failure: null,
      warnings: refused ? [refused] : [],
    });
    log.info(`Agent "${identity.name}" is up${roomId ? "" : " in lobby-only mode"}.`);
    return membership;
  }

  /** Booted: waits for the fleet's other agents, if any; false when stopped first. */
  async #passGate(signal: AbortSignal): Promise<boolean> {
    const { fleetBoot, identity } = this.#options;
    if (!fleetBoot) return true;
    fleetBoot.arrive(identity.name);
    return await fleetBoot.passed(signal).then(() => true, () => false);
  }

  /** Sleeps a random 0–2 s, so agents of a fleet that starts at once reach the server spread out. */
  async startupJitter(signal?: AbortSignal): Promise<number> {
    const delay = Math.floor(this.#options.deps.random() * STARTUP_JITTER_MAX_MS);
    this.#options.log.debug(`startup jitter: waiting ${delay} ms`);
    await this.#options.deps.sleep(delay, signal);
    return delay;
  }

  /** A passing failure: say so, record it for `cchat status`, and back off before the next try. */
  async #retryLater(
    step: string,
    err: Error,
    failure: Failure,
    attempt: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { deps, log } = this.#options;
    // A rate limit says when to come back: later leaves the server's next free slot unused.
    const asked = err instanceof MatrixError ? err.retryAfterMs : undefined;
    const wait = asked === undefined
      ? Math.min(MAX_RETRY_DELAY_MS, backoffMs(attempt, deps.random, 1000))
      : asked + Math.round(deps.random() * RATE_LIMIT_JITTER_MS);
    log.warn(`${step} failed (${err.message}); retrying in ${Math.ceil(wait / 1000)} s.`);
    await this.#report({ state: "retrying", lastError: err.message, failure });
    await deps.sleep(wait, signal).catch(() => {});
  }

  /**
   * Beats at once, then after a random part of the interval, then every
   * interval: the agents of a fleet go live together, and beats in step
   * would reach the server as one burst per interval.
   */
  async #beatLoop(targets: string[], place: AgentPlace, signal: AbortSignal): Promise<void> {
    const { deps, identity, log } = this.#options;
    let wait = Math.floor(deps.random() * identity.intervalMs);
    while (!signal.aborted) {
      try {
        await this.#heartbeat.beat(targets, "online");
      } catch (err) {
        log.warn(`A heartbeat failed: ${(err as Error).message}`);
      }
      await place.keep();
      await deps.sleep(wait, signal).catch(() => {});
      wait = identity.intervalMs;
    }
  }

  #routeContext(membership: Membership): RouteContext {
    return {
      userId: this.#options.identity.userId,
      roomId: membership.roomId,
      lobbyId: membership.directory.lobbyId,
      allowedServers: new Set(this.#options.allowedServers),
    };
  }

  /** Stores what `route` lets into the inbox, and wakes the readers. */
  async #commit(rooms: RoomEvents, context: RouteContext, nextBatch?: string): Promise<void> {
    const { store, log, inbox } = this.#options;
    const { messages, withdrawn } = await this.#collect(rooms, context);
    const added = await store.commitBatch(messages, nextBatch, withdrawn);
    if (added > 0) {
      log.debug(`${added} new message(s) in the inbox`);
      await inbox?.notify();
    }
  }

  /**
   * Takes the agent's share of what the homeserver pushes to the fleet, from
   * the rooms it is joined to now, until stopped. It catches up with a sync
   * of its own when it attaches (what came while it was away), after any sign
   * of trouble at the homeserver, and every CATCH_UP_SYNC_TIMEOUTS or so; events
   * both pushed and synced are stored once. The later of the homeserver's
   * last push or ping and that sync stands for a sync loop's last sync.
   */
  async #feedLoop(feed: AppserviceFeed, membership: Membership, signal: AbortSignal) {
    const { space: { client }, store, deps, identity, syncTimeoutMs } = this.#options;
    const context = this.#routeContext(membership);
    const rooms = await this.#retried("Listing the rooms", () => client.joinedRooms(), signal);
    if (rooms === undefined) return;
    const detach = feed.attach(
      identity.name,
      identity.userId,
      rooms,
      (batch) => this.#commit(batch, context),
    );
    let since = await store.syncToken();
    /** When the last catch-up that succeeded began: what failed before then, it covered. */
    let caughtUpAt: number | null = null;
    /** Until the next catch-up with no trouble seen: drawn anew each time, so a fleet's spread out. */
    let quietMs = 0;
    try {
      for (let failing = false; !signal.aborted;) {
        const due = caughtUpAt === null || (feed.troubleAt ?? -Infinity) >= caughtUpAt ||
          deps.now() - caughtUpAt >= quietMs;
        if (due) {
          const began = deps.now();
          try {
            since = await this.#syncOnce(since, 0, context, signal, false);
            caughtUpAt = began;
            quietMs = Math.round((0.5 + deps.random()) * CATCH_UP_SYNC_TIMEOUTS * syncTimeoutMs);
            failing = false;
          } catch (err) {
            if (signal.aborted) break;
            const failure = failureOf(err);
            if (!isTransient(failure)) throw err;
            // The next look comes with the next tick: the pushes go on meanwhile.
            this.#options.log.warn(
              `Catching up failed (${(err as Error).message}); trying again in ${
                Math.ceil(syncTimeoutMs / 1000)
              } s.`,
            );
            await this.#report({ state: "retrying", lastError: (err as Error).message, failure });
            failing = true;
          }
        }
        if (!failing && caughtUpAt !== null) {
          await this.#report({
            state: "running",
            lastSyncAt: Math.max(feed.heardAt ?? caughtUpAt, caughtUpAt),
            lastError: null,
            failure: null,
          });
        }
        await deps.sleep(syncTimeoutMs, signal).catch(() => {});
      }
    } finally {
      detach();
    }
  }

  /** `step` until it succeeds, retried while its failure is transient; undefined when stopped. */
  async #retried<T>(what: string, step: () => Promise<T>, signal: AbortSignal) {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await step();
      } catch (err) {
        if (signal.aborted) break;
        const failure = failureOf(err);
        if (!isTransient(failure)) throw err;
        await this.#retryLater(what, err as Error, failure, attempt, signal);
      }
    }
    return undefined;
  }

  async #syncLoop(membership: Membership, signal: AbortSignal): Promise<void> {
    const { store, deps, syncTimeoutMs } = this.#options;
    const context = this.#routeContext(membership);
    let since = await store.syncToken();
    for (let failures = 0; !signal.aborted;) {
      try {
        since = await this.#syncOnce(since, syncTimeoutMs, context, signal, true);
        failures = 0;
        await this.#report({
          state: "running",
          lastSyncAt: deps.now(),
          lastError: null,
          failure: null,
        });
      } catch (err) {
        if (signal.aborted) break;
        const failure = failureOf(err);
        if (!isTransient(failure)) throw err;
        await this.#retryLater("Sync", err as Error, failure, ++failures, signal);
      }
    }
  }

  /**
   * One /sync from `since`, its messages committed with its token; the token.
   * A first sync only marks where the inbox starts: history before it is not news.
   * A sync loop makes the agent present; a catch-up now and then would only
   * make it blink online, so it leaves presence alone.
   */
  async #syncOnce(
    since: string | undefined,
    timeoutMs: number,
    context: RouteContext,
    signal: AbortSignal,
    present: boolean,
  ): Promise<string> {
    const response = await this.#options.space.client.sync({
      filter: since ? await this.#filterId() : MARK_FILTER,
      since,
      timeoutMs: since ? timeoutMs : 0,
      present,
      signal,
    });
    const rooms = since ? await this.#timelines(response, since) : [];
    await this.#commit(rooms, context, response.next_batch);
    this.#checkClaim(response);
    return response.next_batch;
  }

  async #filterId(): Promise<string> {
    const { space: { client }, records, identity } = this.#options;
    const known = await records.filterId(FILTER_KEY);
    if (known) return known;
    const id = await client.uploadFilter(identity.userId, AGENT_SYNC_FILTER);
    await records.saveFilterId(FILTER_KEY, id);
    return id;
  }

  /** Each joined room's events in the batch, with any gap a limited timeline left filled from /messages. */
  async #timelines(response: SyncResponse, since: string): Promise<RoomEvents> {
    const rooms: RoomEvents = [];
    for (const [roomId, room] of Object.entries(response.rooms?.join ?? {})) {
      const timeline = room.timeline?.events ?? [];
      const missed = room.timeline?.limited && room.timeline.prev_batch
        ? await this.#backfill(roomId, room.timeline.prev_batch, since)
        : [];
      rooms.push([roomId, [...missed, ...timeline]]);
    }
    return rooms;
  }

  /** The messages of `rooms` that reach the inbox, in order, and the ids of those they withdrew. */
  async #collect(
    rooms: RoomEvents,
    context: RouteContext,
  ): Promise<{ messages: InboxMessage[]; withdrawn: string[] }> {
    const answered = rooms.flatMap(([, events]) => events.map(repliedTo))
      .filter((id) => id !== undefined);
    const sentByMe = answered.length ? await this.#options.store.sentOf(answered) : undefined;
    // The HTML reader is loaded only for a batch that has a message only its HTML tells.
    const htmlText = rooms.some(([, events]) => events.some(needsHtmlText))
      ? (await import("../matrix/html_text.ts")).htmlText
      : undefined;
    const messages: InboxMessage[] = [];
    const withdrawn: string[] = [];
    for (const [roomId, events] of rooms) {
      for (const event of events) {
        const verdict = route(event, roomId, { ...context, sentByMe, htmlText });
        if (verdict.kind === "inbox") messages.push(verdict.message);
        if (verdict.kind === "withdrawn") withdrawn.push(verdict.eventId);
        if (verdict.kind === "dropped-sender") this.#status.droppedSenders++;
      }
    }
    if (messages.length > 0) {
      const names = await this.#senderNames.of([...new Set(messages.map((m) => m.sender))]);
      for (const message of messages) {
        const name = names.get(message.sender);
        if (name !== undefined) message.senderName = name;
      }
    }
    return { messages, withdrawn };
  }

  async #backfill(roomId: string, from: string, since: string) {
    const older = [];
    for (let token: string | undefined = from; token;) {
      const page = await this.#options.space.client.messages(roomId, {
        dir: "b",
        from: token,
        to: since,
        limit: 100,
        types: [...INBOX_EVENT_TYPES],
      });
      if (page.chunk.length === 0) break;
      older.push(...page.chunk);
      token = page.end;
    }
    return older.reverse();
  }
}
