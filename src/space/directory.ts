/** The Space and the lobby: the two rooms every agent shares. */
import { CchatError, isRefusal } from "../errors.ts";
import type { SpaceEnv } from "./env.ts";
import {
  ensureRoom,
  isNotFound,
  JOIN_RETRIES,
  JOIN_RETRY_BASE_MS,
  joinSoon,
  unlessNotFound,
} from "./ensure.ts";
import { LOBBY_KEY, lobbyRoomId, SPACE_KEY, spaceRoomId } from "./lookup.ts";
import { lobbyRoom, OPEN_EVENTS, roomFlaw, spaceRoom } from "./rooms.ts";

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
  const [lobbyCheck, spaceCheck] = await Promise.all([
    checkShared(env, lobby, OPEN_EVENTS.lobby),
    space ? checkShared(env, space, OPEN_EVENTS.space) : undefined,
  ]);
  if (lobbyCheck.flaw) {
    throw new CchatError(
      `The lobby "${env.aliases.lobby}" is not a room cchat made: ${lobbyCheck.flaw}.`,
      {
        hint: "Someone made that alias before any agent did: have a server admin delete it, " +
          'or set another "alias_prefix" in the config for all agents.',
      },
    );
  }
  if (spaceCheck?.flaw) {
    env.log.warn(
      `The Space "${env.aliases.space}" is not a room cchat made: ${spaceCheck.flaw}; ` +
        "working in lobby-only mode.",
    );
  }
  const spaceId = space && !spaceCheck?.flaw ? space.roomId : null;
  if (access === "create" && spaceId) {
    await furnishSpace(env, spaceId, spaceCheck!.creator === env.userId, lobby.roomId);
  }
  await Promise.all([
    env.cache?.set(LOBBY_KEY, lobby.roomId),
    spaceId ? env.cache?.set(SPACE_KEY, spaceId) : undefined,
  ]);
  return { spaceId, lobbyId: lobby.roomId };
}

/**
 * Who made a Space or lobby found behind its alias, and why it cannot be
 * trusted if it cannot: anyone may create the alias first, with power levels
 * that let its friends rewrite the room or remove agents. Its creator stays
 * its owner, as with a room an agent made first; a room made as cchat makes
 * it passes. One this agent just made needs no look.
 */
async function checkShared(
  env: SpaceEnv,
  room: { roomId: string; created: boolean },
  open: readonly string[],
): Promise<{ creator: string; flaw?: string }> {
  if (room.created) return { creator: env.userId };
  const read = (type: string) =>
    env.client.getStateEvent(room.roomId, type).then((event) => ({
      ...event,
      type,
      state_key: "",
    }));
  for (let attempt = 1;; attempt++) {
    try {
      const state = await Promise.all([read("m.room.create"), read("m.room.power_levels")]);
      return { creator: state[0].sender, flaw: roomFlaw(state, undefined, open) };
    } catch (err) {
      // The alias is out before the room's power levels: a room made a moment ago lacks them.
      if (!isNotFound(err) || attempt >= JOIN_RETRIES) throw err;
      await env.deps.sleep(JOIN_RETRY_BASE_MS * attempt);
    }
  }
}

/**
 * What people browsing the Space in Element need: the lobby among its
 * children, and, when configured, the Space in the server's room directory.
 * Both are settled on every opening that may create, so a Space made before
 * either existed catches up.
 */
async function furnishSpace(
  env: SpaceEnv,
  spaceId: string,
  creator: boolean,
  lobbyId: string,
): Promise<void> {
  const linkLobby = keepSpaceChild(env, spaceId, lobbyId).catch((err) => {
    if (!isRefusal(err)) throw err;
    env.log.warn(`The lobby could not be linked into the Space (${err.status} ${err.errcode}).`);
  });
  await Promise.all([linkLobby, env.publish && creator ? publishSpace(env, spaceId) : undefined]);
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
async function publishSpace(env: SpaceEnv, spaceId: string): Promise<void> {
  try {
    await env.client.setDirectoryVisibility(spaceId, "public");
  } catch (err) {
    if (!isRefusal(err)) throw err;
    env.log.warn(`The Space could not be listed in the room directory: ${err.message}`);
  }
}
