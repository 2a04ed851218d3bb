/**
 * What every operation that talks to the homeserver needs, built once: the
 * local side (configuration, login, data file) with a client and the Space.
 */
import type { Config, FlagValues } from "../config.ts";
import type { Deps } from "../deps.ts";
import { MatrixClient } from "../matrix/client.ts";
import { MatrixHttp } from "../matrix/http.ts";
import { RateGates } from "../matrix/rate_gate.ts";
import { type SpaceEnv, spaceEnv } from "../space/env.ts";
import { RoomCache } from "../store/room_cache.ts";
import { kvSharedGate } from "../store/shared_gate.ts";
import { rememberUserOfToken } from "../store/open.ts";
import {
  dataFileOf,
  type Local,
  localFor,
  type LocalOptions,
  type OpContext,
  readLogin,
} from "./local.ts";

export interface Session extends Local {
  homeserver: string;
  client: MatrixClient;
  space: SpaceEnv;
}

/**
 * A token-less transport for `homeserver`. Its rate gates are this process's
 * own, or shared with the other processes of the data file when given.
 */
export function transport(
  ctx: OpContext,
  config: Config,
  homeserver: string,
  gates = new RateGates(ctx.deps),
): MatrixHttp {
  return new MatrixHttp({
    baseUrl: homeserver,
    deps: ctx.deps,
    gates,
    maxRetryWaitMs: config.maxRetryWaitMs,
    log: (message) => ctx.log.debug(message),
  });
}

export interface SessionOptions extends LocalOptions {
  /** Ends every request of the session: a caller that gave up stops waiting on the server. */
  signal?: AbortSignal;
  /**
   * An application service's token: the session acts through it as the
   * stored login's user, not with that user's own token.
   */
  serviceToken?: string;
}

/**
 * The user a token from the environment belongs to. It may belong to anyone,
 * so the server is asked, and the answer kept for readers, which must not
 * reach the server.
 */
async function userOfToken(
  kv: Deno.Kv,
  deps: Deps,
  token: string,
  client: MatrixClient,
): Promise<string> {
  const { userId } = await client.whoami();
  await rememberUserOfToken(kv, deps, token, userId);
  return userId;
}

/** Opens a logged-in session: the stored login, or CCHAT_ACCESS_TOKEN with the configured homeserver. */
export async function openSession(
  ctx: OpContext,
  flags: FlagValues = {},
  options: SessionOptions = {},
): Promise<Session> {
  const { deps } = ctx;
  const login = await readLogin(deps, flags, { homeserver: true });
  const { config } = login;
  // Checked by readLogin, asked for it.
  const homeserver = login.homeserver!;
  const { kv, close } = await dataFileOf(ctx, config, options);
  const gates = new RateGates(deps, (accessToken) => kvSharedGate(kv, deps, accessToken));
  const http = transport(ctx, config, homeserver, gates);
  const client = new MatrixClient(
    options.serviceToken === undefined
      ? http.withToken(login.token)
      // A fleet's agent always has its stored login: it is how the fleet found it.
      : http.withToken(options.serviceToken, login.stored!.userId),
    options.signal,
  );
  try {
    const userId = login.fromEnv
      ? await userOfToken(kv, deps, login.token, client)
      : login.stored!.userId;
    const cache = new RoomCache(kv, deps, { namespace: `${homeserver}|${config.aliasPrefix}` });
    return {
      ...await localFor(ctx, config, userId, kv, close),
      homeserver,
      client,
      space: spaceEnv({
        client,
        userId,
        prefix: config.aliasPrefix,
        federate: config.federate,
        publish: config.publish,
        deps,
        log: ctx.log,
        cache,
        staleAfter: config.staleAfter,
      }),
    };
  } catch (err) {
    close();
    throw err;
  }
}
