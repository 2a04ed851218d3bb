import pMap from "p-map";
import { CchatError, MatrixError, RateLimitError } from "../errors.ts";
import type { Deps } from "../deps.ts";
import type { MatrixClient } from "../matrix/client.ts";
import type { CreateRoomRequest, MatrixEvent } from "../matrix/types.ts";
import {
  type Agent,
  agentNameFromAlias,
  type Heartbeat,
  parseHeartbeat,
  spaceChildren,
  toAgent,
} from "./agents.ts";
import type { AgentCache } from "./cache.ts";
import {
  type Aliases,
  aliasesFor,
  aliasLocalpart,
  EVENT_AGENT,
  EVENT_HEARTBEAT,
  serverNameOf,
} from "./names.ts";
import { agentRoom, lobbyRoom, restrictedToSpace, spaceRoom } from "./rooms.ts";

export interface Logger {
  warn(message: string): void;
  debug(message: string): void;
}

export interface SpaceManagerOptions {
  client: MatrixClient;
  userId: string;
  prefix: string;
  federate: boolean;
  deps: Pick<Deps, "now" | "sleep" | "random">;
  log: Logger;
  cache?: AgentCache;
  /** Intervals after which a silent agent counts as offline. */
  staleAfter?: number;
}

/** Where an agent lives: the Space (null in lobby-only mode) and the lobby. */
export interface Directory {
  spaceId: string | null;
  lobbyId: string;
}

export interface AgentProfile {
  host: string;
  version: string;
}

/** Ephemeral agents wait up to this long before their first Space call, so a fleet boots spread out. */
export const STARTUP_JITTER_MAX_MS = 2000;
const JOIN_RETRIES = 5;
const JOIN_RETRY_BASE_MS = 200;
const ROOM_READ_CONCURRENCY = 8;

/** What a creator that lost the race to an alias is told: 400 M_ROOM_IN_USE, or 409 in a true race. */
function lostCreationRace(err: unknown): boolean {
  return err instanceof MatrixError &&
    (err.status === 400 && err.errcode === "M_ROOM_IN_USE" || err.status === 409);
}

/**
 * The server refused this room (forbidden, not found, bad request): the agent
 * can live without it. A dead token, a rate limit or a sick server is no
 * refusal, and must reach the caller.
 */
const isRefusal = (err: unknown): err is MatrixError =>
  err instanceof MatrixError && !(err instanceof RateLimitError) && err.status >= 400 &&
  err.status < 500 && err.status !== 401 && err.status !== 429;

const isNotFound = (err: unknown) => err instanceof MatrixError && err.status === 404;

export class SpaceManager {
  readonly serverName: string;
  readonly aliases: Aliases;

  constructor(private readonly options: SpaceManagerOptions) {
    this.serverName = serverNameOf(options.userId);
    this.aliases = aliasesFor(options.prefix, this.serverName);
  }

  private get client(): MatrixClient {
    return this.options.client;
  }

  /** Sleeps a random 0–2 s; called before any Space call by agents that boot in fleets. */
  async startupJitter(): Promise<number> {
    const delay = Math.floor(this.options.deps.random() * STARTUP_JITTER_MAX_MS);
    this.options.log.debug(`startup jitter: waiting ${delay} ms`);
    await this.options.deps.sleep(delay);
    return delay;
  }

  /**
   * Joins the room behind `alias`, creating it first when nobody has. Losing
   * the creation race is normal: the winner's room is joined instead.
   */
  async ensureRoom(
    alias: string,
    request: CreateRoomRequest,
  ): Promise<{ roomId: string; created: boolean }> {
    const existing = await this.#joinSoon(alias, { missingIsFinal: true });
    if (existing !== undefined) return { roomId: existing, created: false };
    try {
      const roomId = await this.client.createRoom({
        ...request,
        room_alias_name: aliasLocalpart(alias),
      });
      return { roomId, created: true };
    } catch (err) {
      if (!lostCreationRace(err)) throw err;
      this.options.log.debug(`lost the race to create "${alias}"; joining the winner's room`);
    }
    return { roomId: (await this.#joinSoon(alias, { missingIsFinal: false }))!, created: false };
  }

  /**
   * Synapse publishes an alias before it sets the new room's join rule, so a
   * fresh room can refuse (403) or, right after a lost race, not resolve (404)
   * for a moment: both are retried briefly. With `missingIsFinal`, a 404 on
   * the first try means the room does not exist (undefined).
   */
  async #joinSoon(
    alias: string,
    options: { missingIsFinal: boolean },
  ): Promise<string | undefined> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.client.join(alias, [this.serverName]);
      } catch (err) {
        if (options.missingIsFinal && attempt === 1 && isNotFound(err)) return undefined;
        const early = err instanceof MatrixError && (err.status === 403 || err.status === 404);
        if (!early || attempt >= JOIN_RETRIES) throw err;
        await this.options.deps.sleep(JOIN_RETRY_BASE_MS * attempt);
      }
    }
  }

  async ensureSpace(): Promise<string> {
    const { owner, federate } = this.#roomOptions();
    return (await this.ensureRoom(this.aliases.space, spaceRoom({ owner, federate }))).roomId;
  }

  async ensureLobby(): Promise<string> {
    return (await this.ensureRoom(this.aliases.lobby, lobbyRoom(this.#roomOptions()))).roomId;
  }

  /**
   * The Space and the lobby. When the Space cannot be had, the agent still
   * works through the lobby alone (v1 mode) after one warning. Rate limits
   * and unreachable servers are not "unavailable": they propagate so the
   * caller retries. With `create: false` nothing is created: a missing lobby
   * means there is no directory yet (null).
   */
  open(): Promise<Directory>;
  open(options: { create: false }): Promise<Directory | null>;
  async open(options: { create?: boolean } = {}): Promise<Directory | null> {
    const create = options.create ?? true;
    const existing = (alias: string) => this.#joinSoon(alias, { missingIsFinal: true });
    // The two rooms do not depend on each other: one round trip, not two.
    const [spaceId, lobbyId] = await Promise.all([
      (create ? this.ensureSpace() : existing(this.aliases.space)).then(
        (id) => id ?? null,
        (err) => {
          if (!isRefusal(err)) throw err;
          this.options.log.warn(
            `The Space "${this.aliases.space}" is unavailable (${err.status} ${err.errcode}); ` +
              "working in lobby-only mode.",
          );
          return null;
        },
      ),
      create ? this.ensureLobby() : existing(this.aliases.lobby),
    ]);
    return lobbyId === undefined ? null : { spaceId, lobbyId };
  }

  /** Creates or adopts the agent's room and links it into the Space. Running it again changes nothing. */
  async registerAgent(name: string, profile: AgentProfile, spaceId: string): Promise<string> {
    const alias = this.aliases.agent(name);
    const { roomId } = await this.ensureRoom(
      alias,
      agentRoom({ ...this.#roomOptions(), name, spaceId, serverName: this.serverName }),
    );
    const via = [this.serverName];
    try {
      await this.client.putState(roomId, EVENT_AGENT, "", {
        name,
        user_id: this.options.userId,
        host: profile.host,
        version: profile.version,
      });
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403) {
        throw new CchatError(`The agent name "${name}" belongs to another account.`, {
          hint: `The room "${alias}" was created by someone else; choose another name.`,
          cause: err,
        });
      }
      throw err;
    }
    await Promise.all([
      this.client.putState(roomId, "m.room.join_rules", "", restrictedToSpace(spaceId)),
      this.client.putState(roomId, "m.space.parent", spaceId, { via, canonical: true }),
      this.client.putState(spaceId, "m.space.child", roomId, { via }),
    ]);
    await this.options.cache?.set(name, { roomId, userId: this.options.userId });
    return roomId;
  }

  /**
   * Opens the directory and registers the agent in it: what an agent does
   * before it beats. In lobby-only mode it has no room of its own (null).
   */
  async enter(
    name: string,
    profile: AgentProfile,
  ): Promise<{ directory: Directory; roomId: string | null }> {
    const directory = await this.open();
    const roomId = directory.spaceId === null
      ? null
      : await this.registerAgent(name, profile, directory.spaceId);
    return { directory, roomId };
  }

  /** The room of agent `name`: from the cache when fresh, else by its alias. */
  agentRoom(name: string): Promise<string> {
    return this.#cachedRoom(name, this.aliases.agent(name));
  }

  /** The lobby's room id, cached under a key no agent name can be. */
  lobbyRoom(): Promise<string> {
    return this.#cachedRoom("#lobby", this.aliases.lobby);
  }

  /** The Space's room id, cached under a key no agent name can be. */
  spaceRoom(): Promise<string> {
    return this.#cachedRoom("#space", this.aliases.space);
  }

  /**
   * The directory's room ids from the cache or the aliases, with no write: a
   * reader that is already a member must not POST a join on every look. Null
   * when there is no lobby yet. Reading may still be refused (403) when the
   * caller is not a member; `open({ create: false })` then joins.
   */
  async knownDirectory(): Promise<Directory | null> {
    const orNull = (lookup: Promise<string>) =>
      lookup.catch((err) => isNotFound(err) ? null : Promise.reject(err));
    const [spaceId, lobbyId] = await Promise.all([
      orNull(this.spaceRoom()),
      orNull(this.lobbyRoom()),
    ]);
    return lobbyId === null ? null : { spaceId, lobbyId };
  }

  /** Forgets a cached room that turned out wrong, so the next lookup asks the server. */
  async forget(name: string): Promise<void> {
    await this.options.cache?.delete(name);
  }

  async #cachedRoom(key: string, alias: string): Promise<string> {
    const cached = await this.options.cache?.get(key);
    if (cached) return cached.roomId;
    const { roomId } = await this.client.resolveAlias(alias);
    await this.options.cache?.set(key, { roomId });
    return roomId;
  }

  /**
   * Every agent with its status. With a Space, the directory comes from
   * /hierarchy and heartbeats from the lobby's state; an agent with no lobby
   * beat falls back to the beat in its own room, read in parallel with a
   * bound. Without a Space, the lobby's heartbeats are the directory.
   */
  async listAgents(directory: Directory): Promise<Agent[]> {
    const now = this.options.deps.now();
    if (directory.spaceId === null) {
      const beats = await this.#lobbyBeats(directory.lobbyId);
      return [...beats.values()].flatMap((beat) => {
        const alias = this.#aliasOrUndefined(beat.name);
        return alias
          ? [
            toAgent(
              { name: beat.name, userId: beat.userId, roomId: null, alias },
              beat,
              now,
              this.options.staleAfter,
            ),
          ]
          : [];
      });
    }
    const spaceId = directory.spaceId;
    const [rooms, beats] = await Promise.all([
      this.client.hierarchy(spaceId, { maxDepth: 1 }),
      this.#lobbyBeats(directory.lobbyId),
    ]);
    const space = rooms.find((room) => room.room_id === spaceId);
    if (!space) return [];
    const summaries = new Map(rooms.map((room) => [room.room_id, room]));
    const entries = spaceChildren(space, this.options.log.debug).flatMap((child) => {
      const summary = summaries.get(child.roomId);
      const name = agentNameFromAlias(summary?.canonical_alias, this.options.prefix);
      if (!summary || !name) {
        this.options.log.debug(`skipped Space child "${child.roomId}": not a visible agent room`);
        return [];
      }
      return [{
        name,
        userId: child.sender,
        roomId: child.roomId,
        alias: summary.canonical_alias!,
      }];
    });
    return await pMap(entries, async (entry) => {
      const lobbyBeat = beats.get(entry.userId);
      const beat = lobbyBeat?.name === entry.name
        ? lobbyBeat
        : await this.#roomBeat(entry.roomId, entry.userId);
      return toAgent(entry, beat, now, this.options.staleAfter);
    }, { concurrency: ROOM_READ_CONCURRENCY });
  }

  async #lobbyBeats(lobbyId: string): Promise<Map<string, Heartbeat>> {
    const beats = new Map<string, Heartbeat>();
    for (const event of await this.client.roomState(lobbyId)) {
      if (event.type !== EVENT_HEARTBEAT) continue;
      const beat = this.#parse(event);
      if (beat) beats.set(beat.userId, beat);
    }
    return beats;
  }

  /** The beat an agent left in its own room; rooms we may not read are skipped, not fatal. */
  async #roomBeat(roomId: string, userId: string): Promise<Heartbeat | undefined> {
    try {
      return this.#parse(await this.client.getStateEvent(roomId, EVENT_HEARTBEAT, userId));
    } catch (err) {
      if (err instanceof MatrixError && (err.status === 403 || err.status === 404)) {
        this.options.log.debug(
          `no heartbeat readable in "${roomId}" (${err.status} ${err.errcode})`,
        );
        return undefined;
      }
      throw err;
    }
  }

  #parse(event: MatrixEvent): Heartbeat | undefined {
    const beat = parseHeartbeat(event);
    if (typeof beat === "string") {
      this.options.log.debug(`skipped a heartbeat: ${beat}`);
      return undefined;
    }
    return beat;
  }

  #aliasOrUndefined(name: string): string | undefined {
    try {
      return this.aliases.agent(name);
    } catch {
      this.options.log.debug(`skipped a heartbeat with the unusable name "${name}"`);
      return undefined;
    }
  }

  #roomOptions() {
    return { owner: this.options.userId, federate: this.options.federate };
  }
}
