/**
 * Room ids by name, through the room cache. A cached id is only a hint: when
 * using it is refused (403) or finds no room (404), it is forgotten and the
 * alias asked again, so a stale entry costs one retry, never an hour.
 */
import { MatrixError } from "../errors.ts";
import type { SpaceEnv } from "./env.ts";

/** Cache keys for the shared rooms; `#` starts no agent name. */
export const LOBBY_KEY = "#lobby";
export const SPACE_KEY = "#space";

const isRefusedOrGone = (err: unknown) =>
  err instanceof MatrixError && (err.status === 403 || err.status === 404);

/** Runs `use` with the room id behind `alias`, cached under `key`. */
export async function withRoom<T>(
  env: SpaceEnv,
  key: string,
  alias: string,
  use: (roomId: string) => Promise<T>,
): Promise<T> {
  const cached = await env.cache?.get(key);
  if (cached) {
    try {
      return await use(cached.roomId);
    } catch (err) {
      if (!isRefusedOrGone(err)) throw err;
      env.log.debug(`the cached room of "${alias}" was refused; asking the server again`);
      await env.cache!.delete(key);
    }
  }
  const { roomId } = await env.client.resolveAlias(alias);
  await env.cache?.set(key, roomId);
  return await use(roomId);
}

/** The room id behind `alias`, from the cache when fresh. */
export function roomId(env: SpaceEnv, key: string, alias: string): Promise<string> {
  return withRoom(env, key, alias, (id) => Promise.resolve(id));
}

export const agentRoomId = (env: SpaceEnv, name: string) =>
  roomId(env, name, env.aliases.agent(name));
export const lobbyRoomId = (env: SpaceEnv) => roomId(env, LOBBY_KEY, env.aliases.lobby);
export const spaceRoomId = (env: SpaceEnv) => roomId(env, SPACE_KEY, env.aliases.space);
