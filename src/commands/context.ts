/**
 * What every command that talks to the homeserver needs, built once: the
 * configuration, the stored login, a client, the Space manager and the store.
 */
import { type Config, loadConfig, type Sources } from "../config.ts";
import { readCredentials } from "../credentials.ts";
import type { Deps } from "../deps.ts";
import { ConfigError } from "../errors.ts";
import { MatrixClient } from "../matrix/client.ts";
import { MatrixHttp } from "../matrix/http.ts";
import { RateGates } from "../matrix/rate_gate.ts";
import type { Output } from "../output.ts";
import { AgentCache } from "../space/cache.ts";
import { openKvWithRetry } from "../space/kv.ts";
import { serverNameOf, validateAgentName } from "../space/names.ts";
import { SpaceManager } from "../space/space.ts";
import { Store } from "../daemon/store.ts";

export interface Session {
  config: Config;
  homeserver: string;
  userId: string;
  serverName: string;
  client: MatrixClient;
  spaces: SpaceManager;
  store: Store;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A transport for the configured homeserver, sharing one gate set per process. */
export function transport(deps: Deps, config: Config, homeserver: string, out: Output): MatrixHttp {
  return new MatrixHttp({
    baseUrl: homeserver,
    deps,
    gates: new RateGates(deps),
    maxRetryWaitMs: config.maxRetryWaitMs,
    log: (message) => out.debug(message),
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
export async function openSession(
  deps: Deps,
  out: Output,
  flags: Sources["flags"],
): Promise<Session> {
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
  const client = new MatrixClient(transport(deps, config, homeserver, out).withToken(token));
  // A token from the environment may belong to anyone; ask the server rather than trust the file.
  const userId = envToken ? (await client.whoami()).userId : stored!.userId;
  const serverName = serverNameOf(userId);
  await Deno.mkdir(config.dataDir, { recursive: true });
  const kv = await openKvWithRetry(deps.openKv, `${config.dataDir}/cchat.kv`, deps);
  const log = { warn: (m: string) => out.warn(m), debug: (m: string) => out.debug(m) };
  const cache = new AgentCache(kv, deps, { namespace: `${homeserver}|${config.aliasPrefix}` });
  return {
    config,
    homeserver,
    userId,
    serverName,
    client,
    spaces: new SpaceManager({
      client,
      userId,
      prefix: config.aliasPrefix,
      federate: config.federate,
      deps,
      log,
      cache,
      staleAfter: config.staleAfter,
    }),
    store: new Store(kv, deps, userId),
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}
