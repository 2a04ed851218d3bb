import { type MatrixHttp, path, type RequestOptions } from "./http.ts";
import type {
  CreateRoomRequest,
  LoginResult,
  MatrixEvent,
  StateEvent,
  SyncFilter,
  SyncResponse,
  TextMessage,
} from "./types.ts";

const V3 = "/_matrix/client/v3";
const SERVICE_LOGIN = "m.login.application_service";

interface LoginAnswer {
  user_id: string;
  access_token: string;
  device_id: string;
}

const loginOf = (answer: LoginAnswer): LoginResult => ({
  userId: answer.user_id,
  accessToken: answer.access_token,
  deviceId: answer.device_id,
});
const V1 = "/_matrix/client/v1";

/** Headroom over the server's long-poll, so a slow answer is not mistaken for a dead server. */
export const SYNC_TIMEOUT_HEADROOM_MS = 15_000;

export interface SyncOptions {
  /** A filter id from uploadFilter. */
  filter?: string;
  since?: string;
  /** The server's long-poll; the request itself waits longer. */
  timeoutMs?: number;
  /** False: this sync leaves the user's presence as it is (the spec's `set_presence=offline`). */
  present?: boolean;
  signal?: AbortSignal;
}

/** Typed calls of the client-server API. It knows rooms and events, nothing of agents. */
export class MatrixClient {
  /** `signal`, when given, ends every call of this client, and every wait inside one. */
  constructor(readonly http: MatrixHttp, readonly signal?: AbortSignal) {}

  /** The same client, stopped by `signal`: for a whole job, such as a boot, that a shutdown ends. */
  withSignal(signal: AbortSignal): MatrixClient {
    return new MatrixClient(this.http, signal);
  }

  #request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const signals = [options.signal, this.signal].filter((s) => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    return this.http.request<T>(method, path, { ...options, signal });
  }

  /** Password login on a token-less transport. */
  static async login(
    http: MatrixHttp,
    credentials: { user: string; password: string; deviceName?: string },
  ): Promise<LoginResult> {
    const answer = await http.request<LoginAnswer>(
      "POST",
      `${V3}/login`,
      {
        body: {
          type: "m.login.password",
          identifier: { type: "m.id.user", user: credentials.user },
          password: credentials.password,
          initial_device_display_name: credentials.deviceName,
        },
      },
    );
    return loginOf(answer);
  }

  /**
   * Registers `localpart` as a user of an application service, through the
   * service's token (`http`): no shared secret, no admin. The login it
   * answers with is the user's own.
   */
  static async registerServiceUser(http: MatrixHttp, localpart: string): Promise<LoginResult> {
    const answer = await http.request<LoginAnswer>("POST", `${V3}/register`, {
      body: { type: SERVICE_LOGIN, username: localpart },
    });
    return loginOf(answer);
  }

  /** A new login of an application service's user that already exists, through the service's token. */
  static async loginServiceUser(http: MatrixHttp, localpart: string): Promise<LoginResult> {
    const answer = await http.request<LoginAnswer>("POST", `${V3}/login`, {
      body: { type: SERVICE_LOGIN, identifier: { type: "m.id.user", user: localpart } },
    });
    return loginOf(answer);
  }

  async whoami(): Promise<{ userId: string; deviceId?: string }> {
    const answer = await this.#request<{ user_id: string; device_id?: string }>(
      "GET",
      `${V3}/account/whoami`,
    );
    return { userId: answer.user_id, deviceId: answer.device_id };
  }

  async logout(): Promise<void> {
    await this.#request("POST", `${V3}/logout`, { body: {}, idempotent: true });
  }

  async createRoom(request: CreateRoomRequest): Promise<string> {
    const answer = await this.#request<{ room_id: string }>("POST", `${V3}/createRoom`, {
      body: request,
    });
    return answer.room_id;
  }

  /** Joins by room id or alias; `via` names servers that can vouch for a restricted join. */
  async join(roomIdOrAlias: string, via: string[] = []): Promise<string> {
    const answer = await this.#request<{ room_id: string }>(
      "POST",
      V3 + path`/join/${roomIdOrAlias}`,
      { body: {}, query: { via, server_name: via }, idempotent: true },
    );
    return answer.room_id;
  }

  async leave(roomId: string): Promise<void> {
    await this.#request("POST", V3 + path`/rooms/${roomId}/leave`, { body: {}, idempotent: true });
  }

  /**
   * Asks the homeserver to reach application service `serviceId`, whose own
   * token this client holds: an answer proves both directions work.
   */
  async pingService(serviceId: string): Promise<void> {
    await this.#request("POST", V1 + path`/appservice/${serviceId}/ping`, {
      body: {},
      idempotent: true,
    });
  }

  /** The ids of the rooms the user is joined to. */
  async joinedRooms(): Promise<string[]> {
    const answer = await this.#request<{ joined_rooms: string[] }>("GET", `${V3}/joined_rooms`);
    return answer.joined_rooms;
  }

  /** The user ids of the room's joined members. */
  async joinedMembers(roomId: string): Promise<string[]> {
    const answer = await this.#request<{ joined: Record<string, unknown> }>(
      "GET",
      V3 + path`/rooms/${roomId}/joined_members`,
    );
    return Object.keys(answer.joined);
  }

  async resolveAlias(alias: string): Promise<{ roomId: string; servers: string[] }> {
    const answer = await this.#request<{ room_id: string; servers?: string[] }>(
      "GET",
      V3 + path`/directory/room/${alias}`,
    );
    return { roomId: answer.room_id, servers: answer.servers ?? [] };
  }

  /** Lists the room in the server's room directory (Explore in Element), or takes it out. */
  async setDirectoryVisibility(roomId: string, visibility: "public" | "private"): Promise<void> {
    await this.#request("PUT", V3 + path`/directory/list/room/${roomId}`, {
      body: { visibility },
      idempotent: true,
    });
  }

  /** The whole state event, with its sender and the server's timestamp. */
  async getStateEvent(roomId: string, type: string, stateKey = ""): Promise<MatrixEvent> {
    return await this.#request<MatrixEvent>(
      "GET",
      V3 + path`/rooms/${roomId}/state/${type}/${stateKey}`,
      { query: { format: "event" } },
    );
  }

  async putState(
    roomId: string,
    type: string,
    stateKey: string,
    content: Record<string, unknown>,
  ): Promise<string> {
    const answer = await this.#request<{ event_id: string }>(
      "PUT",
      V3 + path`/rooms/${roomId}/state/${type}/${stateKey}`,
      { body: content },
    );
    return answer.event_id;
  }

  async roomState(roomId: string): Promise<StateEvent[]> {
    return await this.#request<StateEvent[]>("GET", V3 + path`/rooms/${roomId}/state`);
  }

  /** Sends an event. Reusing `txnId` makes the server answer with the first event instead of a copy. */
  async send(
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    txnId: string = crypto.randomUUID(),
  ): Promise<string> {
    const answer = await this.#request<{ event_id: string }>(
      "PUT",
      V3 + path`/rooms/${roomId}/send/${type}/${txnId}`,
      { body: content },
    );
    return answer.event_id;
  }

  async sendText(roomId: string, message: TextMessage, txnId?: string): Promise<string> {
    return await this.send(roomId, "m.room.message", textContent(message), txnId);
  }

  /** Marks the room read up to `eventId` for this user, as other members see it. */
  async sendReceipt(roomId: string, eventId: string): Promise<void> {
    await this.#request("POST", V3 + path`/rooms/${roomId}/receipt/m.read/${eventId}`, {
      body: {},
    });
  }

  /** Sets one type of the user's account data, which only its own sessions see. */
  async setAccountData(userId: string, type: string, content: Record<string, unknown>) {
    await this.#request("PUT", V3 + path`/user/${userId}/account_data/${type}`, { body: content });
  }

  async uploadFilter(userId: string, filter: SyncFilter): Promise<string> {
    const answer = await this.#request<{ filter_id: string }>(
      "POST",
      V3 + path`/user/${userId}/filter`,
      { body: filter, idempotent: true },
    );
    return answer.filter_id;
  }

  async sync(options: SyncOptions = {}): Promise<SyncResponse> {
    const timeoutMs = options.timeoutMs ?? 0;
    return await this.#request<SyncResponse>("GET", `${V3}/sync`, {
      query: {
        filter: options.filter,
        since: options.since,
        timeout: timeoutMs,
        set_presence: options.present === false ? "offline" : undefined,
      },
      timeoutMs: timeoutMs + SYNC_TIMEOUT_HEADROOM_MS,
      signal: options.signal,
    });
  }

  /** A page of a room's timeline; `to` stops at a sync token, which is how a sync gap is filled. */
  async messages(
    roomId: string,
    options: { dir?: "b" | "f"; limit?: number; from?: string; to?: string; types?: string[] } = {},
  ): Promise<{ chunk: MatrixEvent[]; end?: string }> {
    return await this.#request("GET", V3 + path`/rooms/${roomId}/messages`, {
      query: {
        dir: options.dir ?? "b",
        limit: options.limit,
        from: options.from,
        to: options.to,
        filter: options.types ? JSON.stringify({ types: options.types }) : undefined,
      },
    });
  }

  /** One event of a room, as the server serves it to a member. */
  async event(roomId: string, eventId: string): Promise<MatrixEvent> {
    return await this.#request<MatrixEvent>("GET", V3 + path`/rooms/${roomId}/event/${eventId}`);
  }

  /** The events that relate to `eventId` by `relType` (a thread: `m.thread`), newest first. */
  async relations(
    roomId: string,
    eventId: string,
    relType: string,
    options: { limit?: number } = {},
  ): Promise<{ chunk: MatrixEvent[] }> {
    return await this.#request(
      "GET",
      V1 + path`/rooms/${roomId}/relations/${eventId}/${relType}`,
      { query: { dir: "b", limit: options.limit } },
    );
  }
}

/** The content of an `m.room.message` for a text, with its reply or thread relation. */
export function textContent(message: TextMessage): Record<string, unknown> {
  const content: Record<string, unknown> = {
    msgtype: message.msgtype ?? "m.text",
    body: message.body,
    "m.mentions": message.mentions ?? {},
  };
  if (message.html !== undefined) {
    content.format = "org.matrix.custom.html";
    content.formatted_body = message.html;
  }
  if (message.threadRoot) {
    content["m.relates_to"] = {
      rel_type: "m.thread",
      event_id: message.threadRoot,
      is_falling_back: !message.replyTo,
      "m.in_reply_to": { event_id: message.replyTo ?? message.threadRoot },
    };
  } else if (message.replyTo) {
    content["m.relates_to"] = { "m.in_reply_to": { event_id: message.replyTo } };
  }
  return content;
}
