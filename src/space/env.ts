/** What every job on the Space works with, built once by `spaceEnv`. */
import { DEFAULT_PUBLISH, DEFAULT_STALE_AFTER } from "../defaults.ts";
import type { Deps } from "../deps.ts";
import { CchatError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { MatrixClient } from "../matrix/client.ts";
import { serverOfUserId } from "../matrix/ids.ts";
import { type Aliases, aliasesFor } from "./names.ts";
import type { RoomCache } from "../store/room_cache.ts";

export interface SpaceEnv {
  client: MatrixClient;
  userId: string;
  /** The user's own server: it can vouch for every join. */
  serverName: string;
  prefix: string;
  aliases: Aliases;
  federate: boolean;
  /** The Space's creator lists it in the server's room directory. */
  publish: boolean;
  deps: Pick<Deps, "now" | "sleep" | "random">;
  log: Logger;
  cache?: RoomCache;
  /** Intervals after which a silent agent counts as offline. */
  staleAfter: number;
  /** The rooms the user was in when this job began: they are not joined again. */
  joined?: ReadonlySet<string>;
}

export interface SpaceEnvOptions {
  client: MatrixClient;
  userId: string;
  prefix: string;
  federate: boolean;
  publish?: boolean;
  deps: SpaceEnv["deps"];
  log: Logger;
  cache?: RoomCache;
  staleAfter?: number;
}

export function spaceEnv(options: SpaceEnvOptions): SpaceEnv {
  const serverName = serverOfUserId(options.userId);
  if (serverName === undefined) {
    throw new CchatError(`The account's user id "${options.userId}" is not a Matrix user id.`, {
      hint: 'Log in again with "cchat login --force".',
    });
  }
  return {
    ...options,
    serverName,
    aliases: aliasesFor(options.prefix, serverName),
    staleAfter: options.staleAfter ?? DEFAULT_STALE_AFTER,
    publish: options.publish ?? DEFAULT_PUBLISH,
  };
}
