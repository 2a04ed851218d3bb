/** The Space and the lobby: the two rooms every agent shares. */
import { MatrixError, RateLimitError } from "../errors.ts";
import type { SpaceEnv } from "./env.ts";
import { ensureRoom, isNotFound, joinSoon } from "./ensure.ts";
import { lobbyRoomId, spaceRoomId } from "./lookup.ts";
import { lobbyRoom, spaceRoom } from "./rooms.ts";

/** Where agents meet: the Space (null in lobby-only mode) and the lobby. */
export interface Directory {
  spaceId: string | null;
  lobbyId: string;
}

/**
 * How far opening the directory may go:
 * - `create`: create the Space and the lobby when missing, and join them;
 * - `join`: join them when they exist, create nothing;
 * - `lookup`: only find their ids (cache or alias), with no write at all, for
 *   readers that are already members and must not POST a join on every look.
 */
export type DirectoryAccess = "create" | "join" | "lookup";

/**
 * The server refused this room (forbidden, not found, bad request): the agent
 * can live without it. A dead token, a rate limit or a sick server is no
 * refusal, and must reach the caller.
 */
const isRefusal = (err: unknown): err is MatrixError =>
  err instanceof MatrixError && !(err instanceof RateLimitError) && err.status >= 400 &&
  err.status < 500 && err.status !== 401 && err.status !== 429;

/**
 * The directory, or null when it does not exist and `access` may not create
 * it (no lobby). When the Space cannot be had, agents still work through the
 * lobby alone (lobby-only mode) after one warning; rate limits and
 * unreachable servers propagate so the caller retries.
 */
export function openDirectory(env: SpaceEnv, access: "create"): Promise<Directory>;
export function openDirectory(env: SpaceEnv, access: DirectoryAccess): Promise<Directory | null>;
export async function openDirectory(
  env: SpaceEnv,
  access: DirectoryAccess,
): Promise<Directory | null> {
  if (access === "lookup") {
    const orNull = (lookup: Promise<string>) =>
      lookup.catch((err) => isNotFound(err) ? null : Promise.reject(err));
    const [spaceId, lobbyId] = await Promise.all([
      orNull(spaceRoomId(env)),
      orNull(lobbyRoomId(env)),
    ]);
    return lobbyId === null ? null : { spaceId, lobbyId };
  }
  const options = { owner: env.userId, federate: env.federate };
  const open = (alias: string, request: Parameters<typeof ensureRoom>[2]) =>
    access === "create"
      ? ensureRoom(env, alias, request).then(({ roomId }) => roomId)
      : joinSoon(env, alias, { missingIsFinal: true });
  // The two rooms do not depend on each other: one round trip, not two.
  const [spaceId, lobbyId] = await Promise.all([
    open(env.aliases.space, spaceRoom(options)).then(
      (id) => id ?? null,
      (err) => {
        if (!isRefusal(err)) throw err;
        env.log.warn(
          `The Space "${env.aliases.space}" is unavailable (${err.status} ${err.errcode}); ` +
            "working in lobby-only mode.",
        );
        return null;
      },
    ),
    open(env.aliases.lobby, lobbyRoom(options)),
  ]);
  return lobbyId === undefined ? null : { spaceId, lobbyId };
}
