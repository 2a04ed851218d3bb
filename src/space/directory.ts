/** The Space and the lobby: the two rooms every agent shares. */
import { MatrixError, RateLimitError } from "../errors.ts";
import type { SpaceEnv } from "./env.ts";
import { ensureRoom, joinSoon, unlessNotFound } from "./ensure.ts";
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
    const [spaceId = null, lobbyId = null] = await Promise.all([
      unlessNotFound(spaceRoomId(env)),
      unlessNotFound(lobbyRoomId(env)),
    ]);
    return lobbyId === null ? null : { spaceId, lobbyId };
  }
  const options = { owner: env.userId, federate: env.federate };
  const open = (alias: string, request: Parameters<typeof ensureRoom>[2]) =>
    access === "create"
      ? ensureRoom(env, alias, request)
      : joinSoon(env, alias, { missingIsFinal: true }).then((roomId) =>
        roomId === undefined ? undefined : { roomId, created: false }
      );
  // The two rooms do not depend on each other: one round trip, not two.
  const [space, lobby] = await Promise.all([
    open(env.aliases.space, spaceRoom(options)).catch((err) => {
      if (!isRefusal(err)) throw err;
      env.log.warn(
        `The Space "${env.aliases.space}" is unavailable (${err.status} ${err.errcode}); ` +
          "working in lobby-only mode.",
      );
      return undefined;
    }),
    open(env.aliases.lobby, lobbyRoom(options)),
  ]);
  if (lobby === undefined) return null;
  if (access === "create" && space) await furnishSpace(env, space, lobby.roomId);
  return { spaceId: space?.roomId ?? null, lobbyId: lobby.roomId };
}

/**
 * What people browsing the Space in Element need: the lobby among its
 * children, and, when configured, the Space in the server's room directory.
 * Both are settled on every opening that may create, so a Space made before
 * either existed catches up.
 */
async function furnishSpace(
  env: SpaceEnv,
  space: { roomId: string; created: boolean },
  lobbyId: string,
): Promise<void> {
  const linkLobby = keepSpaceChild(env, space.roomId, lobbyId).catch((err) => {
    if (!isRefusal(err)) throw err;
    env.log.warn(`The lobby could not be linked into the Space (${err.status} ${err.errcode}).`);
  });
  await Promise.all([linkLobby, env.publish ? publishSpace(env, space) : undefined]);
}

/**
 * Links `childId` into the Space unless a usable link is there; true when it
 * had to write. Reading first keeps a link another member set from being
 * rewritten (a new event, as the sender changes) on every call. Usable means
 * through this server alone: any member may write the link, and a `via` of
 * theirs would send clients joining the room to a server of their choosing.
 */
export async function keepSpaceChild(
  env: SpaceEnv,
  spaceId: string,
  childId: string,
): Promise<boolean> {
  const link = await unlessNotFound(env.client.getStateEvent(spaceId, "m.space.child", childId));
  const via = link?.content?.via;
  if (Array.isArray(via) && via.length === 1 && via[0] === env.serverName) return false;
  await env.client.putState(spaceId, "m.space.child", childId, { via: [env.serverName] });
  return true;
}

/**
 * Only the Space's moderators may list it, so only its creator tries: the
 * others would be refused on every boot.
 */
async function publishSpace(
  env: SpaceEnv,
  space: { roomId: string; created: boolean },
): Promise<void> {
  const creator = space.created ||
    (await env.client.getStateEvent(space.roomId, "m.room.create")).sender === env.userId;
  if (!creator) return;
  try {
    await env.client.setDirectoryVisibility(space.roomId, "public");
  } catch (err) {
    if (!isRefusal(err)) throw err;
    env.log.warn(`The Space could not be listed in the room directory: ${err.message}`);
  }
}
