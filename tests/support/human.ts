/**
 * "The human in Element": an independent Matrix client (matrix-js-sdk, the
 * SDK Element is built on) that acceptance tests drive as a person would.
 */
import {
  ClientEvent,
  createClient,
  EventType,
  type HierarchyRoom,
  type MatrixClient,
  type MatrixEvent,
  MemoryStore,
  type Room,
  RoomEvent,
  SyncState,
} from "matrix-js-sdk";
import { freshUser, type TestHomeserver, type TestUser } from "./homeserver.ts";

export type { HierarchyRoom, MatrixEvent };

export class Human {
  readonly client: MatrixClient;

  constructor(hs: TestHomeserver, readonly user: TestUser) {
    this.client = createClient({
      baseUrl: hs.baseUrl,
      accessToken: user.accessToken,
      userId: user.userId,
      deviceId: user.deviceId,
      // The default store would keep filter ids in Deno's persistent localStorage across runs.
      store: new MemoryStore(),
    });
  }

  /** A human with a fresh account, not yet syncing. */
  static async register(hs: TestHomeserver): Promise<Human> {
    return new Human(hs, await freshUser(hs, "human"));
  }

  get userId(): string {
    return this.user.userId;
  }

  /** Starts syncing and resolves once the first sync has been processed. */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      const onSync = (state: SyncState) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          this.client.off(ClientEvent.Sync, onSync);
          resolve();
        } else if (state === SyncState.Error) {
          this.client.off(ClientEvent.Sync, onSync);
          reject(new Error(`${this.userId} could not sync`));
        }
      };
      this.client.on(ClientEvent.Sync, onSync);
    });
    await this.client.startClient({ initialSyncLimit: 20 });
    await ready;
  }

  stop(): void {
    this.client.stopClient();
  }

  async joinRoom(roomIdOrAlias: string): Promise<string> {
    return (await this.client.joinRoom(roomIdOrAlias)).roomId;
  }

  /** Every room of the Space as the human's client sees it, across pages. */
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

  async send(roomId: string, body: string): Promise<string> {
    return (await this.client.sendTextMessage(roomId, body)).event_id;
  }

  /**
   * The first `m.room.message` in `roomId` that matches, whether already in
   * the timeline or still to come. Local echoes of the human's own sends are
   * skipped: they carry no server event id yet.
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
        reject(
          new Error(`No matching m.room.message arrived in ${roomId} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.client.off(RoomEvent.Timeline, onTimeline);
      };
      this.client.on(RoomEvent.Timeline, onTimeline);
    });
  }
}
