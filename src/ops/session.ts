/**
 * What every operation that talks to the homeserver needs, built once: the
 * configuration, the stored login, a client, the Space and the store.
 */
import { type Config, type FlagValues, loadConfig } from "../config.ts";
import { readCredentials } from "../credentials.ts";
import { Store } from "../daemon/store.ts";
import type { Deps } from "../deps.ts";
import { ConfigError } from "../errors.ts";
import { openKvWithRetry } from "../kv.ts";
import type { Logger } from "../log.ts";
import { MatrixClient } from "../matrix/client.ts";
import { MatrixHttp } from "../matrix/http.ts";
import { RateGates } from "../matrix/rate_gate.ts";
import { type SpaceEnv, spaceEnv } from "../space/env.ts";
import { validateAgentName } from "../space/names.ts";
import { RoomCache } from "../space/room_cache.ts";

/** What an operation is given by its face: the outside world, and where to say what happens. */
export interface OpContext {
  deps: Deps;
  log: Logger;
}

export interface Session {
  config: Config;
  homeserver: string;
  userId: string;
  client: MatrixClient;
  space: SpaceEnv;
  store: Store;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A token-less transport for `homeserver`, with the process's own rate gates. */
export function transport(ctx: OpContext, config: Config, homeserver: string): MatrixHttp {
  return new MatrixHttp({
    baseUrl: homeserver,
    deps: ctx.deps,
    gates: new RateGates(ctx.deps),
    maxRetryWaitMs: config.maxRetryWaitMs,
    log: (message) => ctx.log.debug(message),
  });
}

export function requireName(config: Config): string {
  if (!config.name) {
    throw new ConfigError("No agent name is configured.", {
      hint: 'Pass --name NAME, set CCHAT_NAME, or add "name" to the config file.',
    });
  }
  return validateAgentName(config.name);
}

/** Opens a logged-in session: the stored login, or CCHAT_ACCESS_TOKEN with the configured homeserver. */
export async function openSession(ctx: OpContext, flags: FlagValues = {}): Promise<Session> {
  const { deps } = ctx;
  const config = await loadConfig(deps, flags);
  const stored = await readCredentials(config.configDir);
  const envToken = deps.env("CCHAT_ACCESS_TOKEN");
  const homeserver = config.homeserver ?? stored?.homeserver;
  if (!homeserver) {
    throw new ConfigError("No homeserver is configured.", {
      hint: 'Run "cchat login --homeserver URL --user NAME", or set CCHAT_HOMESERVER.',
    });
  }
  const token = envToken ?? stored?.accessToken;
  if (!token) {
    throw new ConfigError("Not logged in.", {
      hint: 'Run "cchat login --homeserver URL --user NAME", or set CCHAT_ACCESS_TOKEN.',
    });
  }
  const client = new MatrixClient(transport(ctx, config, homeserver).withToken(token));
  // A token from the environment may belong to anyone; ask the server rather than trust the file.
  const userId = envToken ? (await client.whoami()).userId : stored!.userId;
  await Deno.mkdir(config.dataDir, { recursive: true });
  const kv = await openKvWithRetry(deps.openKv, `${config.dataDir}/cchat.kv`, deps);
  const cache = new RoomCache(kv, deps, { namespace: `${homeserver}|${config.aliasPrefix}` });
  return {
    config,
    homeserver,
    userId,
    client,
    space: spaceEnv({
      client,
      userId,
      prefix: config.aliasPrefix,
      federate: config.federate,
      deps,
      log: ctx.log,
      cache,
      staleAfter: config.staleAfter,
    }),
    store: new Store(kv, deps, userId, config.inboxRetentionMs),
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}
