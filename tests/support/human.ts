/**
 * "The human in Element": an independent Matrix client built on matrix-js-sdk,
 * the SDK Element is built on, so acceptance tests do not check cchat against
 * its own HTTP code. Rooms are unencrypted, so crypto is never started.
 */
import {
  type BaseRequestOpts,
  type Body,
  ClientEvent,
  createClient,
  EventType,
  type HierarchyRoom,
  type ICreateClientOpts,
  type MatrixClient,
  type MatrixEvent,
  MemoryStore,
  type Method,
  type Room,
  RoomEvent,
  SyncState,
  type SyncStateData,
} from "matrix-js-sdk";
import { freshUser, type TestHomeserver, type TestUser } from "../../harness/users.ts";

export type { HierarchyRoom, MatrixEvent };

type Logger = NonNullable<ICreateClientOpts["logger"]>;

/** The SDK logs every request at debug level; tests only want its warnings. */
const quiet: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn: console.warn,
  error: console.error,
  getChild: () => quiet,
};

/**
 * The SDK enforces its client-side request timeout (110 s for /sync) with a
 * setTimeout it never clears, which Deno's op sanitizer reports as a leak
 * after every test. The same deadline as an `AbortSignal.timeout` holds no
 * pending op, and `stopClient()` still aborts the long poll.
 */
function withClearableTimeouts(client: MatrixClient): void {
  const http = client.http;
  const requestOtherUrl = http.requestOtherUrl.bind(http);
  http.requestOtherUrl = <T>(
    method: Method,
    url: URL | string,
    body?: Body,
    opts: BaseRequestOpts = {},
  ) => {
    const { localTimeoutMs, abortSignal } = opts;
    const signals: AbortSignal[] = abortSignal ? [abortSignal] : [];
    if (localTimeoutMs !== undefined) signals.push(AbortSignal.timeout(localTimeoutMs));
    return requestOtherUrl<T>(method, url, body, {
      ...opts,
      localTimeoutMs: undefined,
      abortSignal: AbortSignal.any(signals),
    });
  };
}

export class Human {
  readonly client: MatrixClient;

  constructor(hs: TestHomeserver, readonly user: TestUser) {
    this.client = createClient({
      baseUrl: hs.baseUrl,
      accessToken: user.accessToken,
      userId: user.userId,
      deviceId: user.deviceId,
      // The default store persists filter ids in Deno's localStorage, which outlives the test run.
      store: new MemoryStore(),
      logger: quiet,
    });
    withClearableTimeouts(this.client);
  }

  /** A human with a fresh account, not yet syncing. */
  static async register(hs: TestHomeserver): Promise<Human> {
    return new Human(hs, await freshUser(hs, "human"));
  }

  get userId(): string {
    return this.user.userId;
  }

  /** Starts syncing; resolves once the first sync is processed, so joined rooms are known. */
  async start(): Promise<void> {
    const firstSync = new Promise<void>((resolve, reject) => {
      const onSync = (state: SyncState, _prev: SyncState | null, data?: SyncStateData) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          this.client.off(ClientEvent.Sync, onSync);
          resolve();
        } else if (state === SyncState.Error) {
          // The SDK would retry forever; a test wants the failure, and no client left running.
          this.client.off(ClientEvent.Sync, onSync);
          this.client.stopClient();
          reject(new Error(`${this.userId} could not sync: ${data?.error?.message}`));
        }
      };
      this.client.on(ClientEvent.Sync, onSync);
    });
    await this.client.startClient({ initialSyncLimit: 20 });
    await firstSync;
  }

  /** Aborts the long poll and stops every SDK timer; safe to call twice. */
  stop(): void {
    this.client.stopClient();
  }

  /** Joins by id or alias (no invite needed where the join rule allows it); returns the room id. */
  async joinRoom(roomIdOrAlias: string): Promise<string> {
    return (await this.client.joinRoom(roomIdOrAlias)).roomId;
  }

  /** Every room of the Space, the Space itself included, across all pages. */
  async hierarchy(spaceId: string): Promise<HierarchyRoom[]> {
    const rooms: HierarchyRoom[] = [];
    let from: string | undefined;
    do {
      const page = await this.client.getRoomHierarchy(spaceId, undefined, undefined, false, from);
      rooms.push(...page.rooms);
      from = page.next_batch;
    } while (from);
    return rooms;
  }

  /** Sends a plain-text message; returns its event id. */
  async send(roomId: string, body: string): Promise<string> {
    return (await this.client.sendTextMessage(roomId, body)).event_id;
  }

  /**
   * The first `m.room.message` in `roomId` that matches, already in the live
   * timeline or still to come. Local echoes of the human's own sends are
   * skipped: their ids are not the server's yet.
   */
  waitForMessage(
    roomId: string,
    predicate: (event: MatrixEvent) => boolean,
    timeoutMs: number,
  ): Promise<MatrixEvent> {
    const matches = (event: MatrixEvent) =>
      event.getType() === EventType.RoomMessage && event.status === null && predicate(event);
    const seen = this.client.getRoom(roomId)?.getLiveTimeline().getEvents().find(matches);
    if (seen) return Promise.resolve(seen);

    return new Promise((resolve, reject) => {
      const onTimeline = (event: MatrixEvent, room: Room | undefined) => {
        if (room?.roomId !== roomId || !matches(event)) return;
        done();
        resolve(event);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`No matching m.room.message arrived in ${roomId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.client.off(RoomEvent.Timeline, onTimeline);
      };
      this.client.on(RoomEvent.Timeline, onTimeline);
    });
  }
}
