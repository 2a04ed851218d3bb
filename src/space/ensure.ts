/** Creating a room behind an alias, and settling the race when several agents create it at once. */
import { hasStatus, isRefusal, MatrixError } from "../errors.ts";
import type { CreateRoomRequest } from "../matrix/types.ts";
import type { SpaceEnv } from "./env.ts";
import { aliasLocalpart } from "./names.ts";

/** How often, and how far apart, a room the server is still making is asked again. */
export const JOIN_RETRIES = 5;
export const JOIN_RETRY_BASE_MS = 200;

/** What a creator that lost the race to an alias is told: 400 M_ROOM_IN_USE, or 409 in a true race. */
function lostCreationRace(err: unknown): boolean {
  return err instanceof MatrixError &&
    (err.status === 400 && err.errcode === "M_ROOM_IN_USE" || err.status === 409);
}

export const isNotFound = (err: unknown) => hasStatus(err, 404);

/** What `request` answers, or undefined when the server has no such thing (404). */
export const unlessNotFound = <T>(request: Promise<T>): Promise<T | undefined> =>
  request.catch((err) => isNotFound(err) ? undefined : Promise.reject(err));

/** What `request` answers, or undefined when the server refuses it. */
export const unlessRefused = <T>(request: Promise<T>): Promise<T | undefined> =>
  request.catch((err) => isRefusal(err) ? undefined : Promise.reject(err));

/**
 * Joins the room behind `alias`, creating it first when nobody has. Losing
 * the creation race is normal: the winner's room is joined instead.
 */
export async function ensureRoom(
  env: SpaceEnv,
  alias: string,
  request: CreateRoomRequest,
): Promise<{ roomId: string; created: boolean }> {
  const existing = await joinSoon(env, alias, { missingIsFinal: true });
  if (existing !== undefined) return { roomId: existing, created: false };
  try {
    const roomId = await env.client.createRoom({
      ...request,
      room_alias_name: aliasLocalpart(alias),
    });
    return { roomId, created: true };
  } catch (err) {
    if (!lostCreationRace(err)) throw err;
    env.log.debug(`lost the race to create "${alias}"; joining the winner's room`);
  }
  return { roomId: (await joinSoon(env, alias, { missingIsFinal: false }))!, created: false };
}

/**
 * Synapse publishes an alias before it sets the new room's join rule, so a
 * fresh room can refuse (403) or, right after a lost race, not resolve (404)
 * for a moment: both are retried briefly. With `missingIsFinal`, a 404 on
 * the first try means the room does not exist (undefined).
 */
export async function joinSoon(
  env: SpaceEnv,
  alias: string,
  options: { missingIsFinal: boolean },
): Promise<string | undefined> {
  if (env.joined?.size) {
    // Joining a room again is answered as a no-op, yet costs Synapse several times a lookup.
    const roomId = (await unlessNotFound(env.client.resolveAlias(alias)))?.roomId;
    if (roomId !== undefined && env.joined.has(roomId)) return roomId;
    if (roomId === undefined && options.missingIsFinal) return undefined;
  }
  for (let attempt = 1;; attempt++) {
    try {
      return await env.client.join(alias, [env.serverName]);
    } catch (err) {
      if (options.missingIsFinal && attempt === 1 && isNotFound(err)) return undefined;
      const early = hasStatus(err, 403, 404);
      if (!early || attempt >= JOIN_RETRIES) throw err;
      await env.deps.sleep(JOIN_RETRY_BASE_MS * attempt);
    }
  }
}
