/**
 * What every operation that talks to the homeserver needs, built once: the
 * configuration, the stored login, a client, the Space and the store.
 */
import { type Config, type FlagValues, loadConfig } from "../config.ts";
import { readCredentials } from "../credentials.ts";
import { Store } from "../daemon/store.ts";
import type { Deps } from "../deps.ts";
import { ConfigError } from "../errors.ts";
import { commitWithRetry, openKvWithRetry, withLockRetry } from "../kv.ts";
import type { Logger } from "../log.ts";
import { MatrixClient } from "../matrix/client.ts";
import { MatrixHttp } from "../matrix/http.ts";
import { RateGates } from "../matrix/rate_gate.ts";
import { type SpaceEnv, spaceEnv } from "../space/env.ts";
import { validateAgentName } from "../space/names.ts";
import { RoomCache } from "../space/room_cache.ts";
import { kvSharedGate } from "../shared_gate.ts";
import { sha256Hex } from "../encoding.ts";
import { type ChangeSignal, fileSignal } from "../daemon/change_signal.ts";

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
  /** Rung by the daemon when it stores messages; readers wait on it. */
  inbox: ChangeSignal;
  /** Rung by readers when they leave read receipts; the daemon posts them at once. */
  receipts: ChangeSignal;
  [Symbol.asyncDispose](): Promise<void>;
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

export function requireName(config: Config): string {
  if (!config.name) {
    throw new ConfigError("No agent name is configured.", {
      hint: 'Pass --name NAME, set CCHAT_NAME, or add "name" to the config file.',
    });
  }
  return validateAgentName(config.name);
}

/** The KV file and the journal files SQLite keeps beside it: an agent's messages, all three. */
const KV_FILES = ["cchat.kv", "cchat.kv-wal", "cchat.kv-shm"];

/**
 * Makes the data directory (0700) and its KV files (0600) private, as no other
 * local user may read an agent's messages; returns the KV file's path.
 */
async function privateKvFile(dataDir: string): Promise<string> {
  const path = `${dataDir}/${KV_FILES[0]}`;
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    // The mode above passes through the umask and leaves a directory that already exists alone.
    await Deno.chmod(dataDir, 0o700);
    // SQLite gives its -wal and -shm files the bits of the database file, so that one comes first.
    (await Deno.open(path, { create: true, append: true, mode: 0o600 })).close();
    for (const name of KV_FILES) await chmodIfPresent(`${dataDir}/${name}`, 0o600);
  } catch (err) {
    throw new ConfigError(
      `Cannot use the data directory "${dataDir}": ${(err as Error).message}.`,
      { hint: "Set CCHAT_DATA_DIR, or XDG_STATE_HOME, to a directory of yours.", cause: err },
    );
  }
  return path;
}

/** Opens the KV file of `dataDir`, made private first. */
export async function openDataKv(deps: Deps, dataDir: string): Promise<Deno.Kv> {
  return await openKvWithRetry(deps.openKv, await privateKvFile(dataDir), deps);
}

async function chmodIfPresent(path: string, mode: number): Promise<void> {
  try {
    await Deno.chmod(path, mode);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

export interface SessionOptions {
  /**
   * Read local data only: an access token from the environment is matched to
   * its user through what an earlier session learned, so the homeserver is
   * asked only the first time.
   */
  offline?: boolean;
  /**
   * The data directory's KV file, already open: a process hosting several
   * agents opens it once for all. The session then leaves it open.
   */
  kv?: Deno.Kv;
  /** Ends every request of the session: a caller that gave up stops waiting on the server. */
  signal?: AbortSignal;
}

/**
 * The user a token from the environment belongs to. It may belong to anyone,
 * so the server is asked, and the answer kept under the token's digest (never
 * the token) for sessions that must not reach the server.
 */
async function userOfToken(
  kv: Deno.Kv,
  deps: Deps,
  token: string,
  client: MatrixClient,
  offline: boolean,
): Promise<string> {
  const key = ["token-user", await sha256Hex(token)];
  if (offline) {
    const known = await withLockRetry(() => kv.get<string>(key), deps);
    if (typeof known.value === "string") return known.value;
  }
  const { userId } = await client.whoami();
  await commitWithRetry(() => kv.atomic().set(key, userId), deps);
  return userId;
}

/** Opens a logged-in session: the stored login, or CCHAT_ACCESS_TOKEN with the configured homeserver. */
export async function openSession(
  ctx: OpContext,
  flags: FlagValues = {},
  options: SessionOptions = {},
): Promise<Session> {
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
  const kv = options.kv ?? await openDataKv(deps, config.dataDir);
  const close = () => options.kv ? undefined : kv.close();
  const gates = new RateGates(deps, (accessToken) => kvSharedGate(kv, deps, accessToken));
  const client = new MatrixClient(
    transport(ctx, config, homeserver, gates).withToken(token),
    options.signal,
  );
  try {
    const userId = envToken
      ? await userOfToken(kv, deps, envToken, client, options.offline ?? false)
      : stored!.userId;
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
        publish: config.publish,
        deps,
        log: ctx.log,
        cache,
        staleAfter: config.staleAfter,
      }),
      store: new Store(kv, deps, userId, config.inboxRetentionMs),
      inbox: await fileSignal(`${config.dataDir}/inbox.signal`, deps),
      receipts: await fileSignal(`${config.dataDir}/receipts.signal`, deps),
      [Symbol.asyncDispose]: () => Promise.resolve(close()),
    };
  } catch (err) {
    close();
    throw err;
  }
}
