/**
 * Room ids through the room cache. A cached id is only a hint: when using it
 * is refused (403) or finds no room (404), it is forgotten and the room found
 * again, so a stale entry costs one retry, never an hour.
 */
import { hasStatus } from "../errors.ts";
import type { SpaceEnv } from "./env.ts";

/** Cache keys for the shared rooms; `#` starts no agent name. */
export const LOBBY_KEY = "#lobby";
export const SPACE_KEY = "#space";

/**
 * Runs `use` with the room cached under `key`, or else the one `find` gives,
 * which is cached. `what` names the room in the debug note.
 */
export async function withCachedRoom<T>(
  env: SpaceEnv,
  key: string,
  what: string,
  find: () => Promise<string>,
  use: (roomId: string) => Promise<T>,
): Promise<T> {
  const cached = await env.cache?.get(key);
  if (cached) {
    try {
      return await use(cached.roomId);
    } catch (err) {
      if (!(hasStatus(err, 403, 404))) throw err;
      env.log.debug(`the cached room of "${what}" was refused; asking the server again`);
      await env.cache!.delete(key);
    }
  }
  const roomId = await find();
  await env.cache?.set(key, roomId);
  return await use(roomId);
}

/** Runs `use` with the room id behind `alias`, cached under `key`. */
export const withRoom = <T>(
  env: SpaceEnv,
  key: string,
  alias: string,
  use: (roomId: string) => Promise<T>,
): Promise<T> =>
  withCachedRoom(env, key, alias, async () => (await env.client.resolveAlias(alias)).roomId, use);

/** The room id behind `alias`, from the cache when fresh. */
export function roomId(env: SpaceEnv, key: string, alias: string): Promise<string> {
  return withRoom(env, key, alias, (id) => Promise.resolve(id));
}

export const lobbyRoomId = (env: SpaceEnv) => roomId(env, LOBBY_KEY, env.aliases.lobby);
export const spaceRoomId = (env: SpaceEnv) => roomId(env, SPACE_KEY, env.aliases.space);
