/**
 * The local side of every operation: the configuration, whose login this is,
 * and the data file, with no network at all. Readers (`inbox`, `wait`, the
 * hooks, the MCP read tools) need nothing more; `session.ts` adds the client
 * and the Space for the operations that talk to the homeserver.
 */
import { type Config, type FlagValues, loadConfig } from "../config.ts";
import { type Credentials, readCredentials } from "../credentials.ts";
import type { Deps } from "../deps.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { validateAgentName } from "../space/names.ts";
import { type ChangeSignal, fileSignal, SignalHub } from "../store/change_signal.ts";
import { knownUserOfToken, openDataKv } from "../store/open.ts";
import { Store } from "../store/store.ts";
import { DaemonRecords } from "../store/daemon_records.ts";

/** What an operation is given by its face: the outside world, and where to say what happens. */
export interface OpContext {
  deps: Deps;
  log: Logger;
  /** The data file, opened once by a face that serves many calls (`cchat mcp`). */
  dataFile?: DataFile;
}

/** A data directory's KV file held open, and its signals shared in-process. */
export interface DataFile {
  kv: Deno.Kv;
  signals: SignalHub;
}

/**
 * `ctx` with its data file opened once, for a face that serves many calls: each
 * operation then finds it open, and the sync loop of the same process wakes
 * the waiting readers directly. Closed when disposed of.
 */
export async function holdDataFile(
  ctx: OpContext,
  flags: FlagValues = {},
): Promise<OpContext & AsyncDisposable> {
  const config = await loadConfig(ctx.deps, flags);
  const kv = await openDataKv(ctx.deps, config.dataDir);
  return {
    ...ctx,
    dataFile: { kv, signals: new SignalHub(ctx.deps) },
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}

export function requireName(config: Config): string {
  if (!config.name) {
    throw new ConfigError("No agent name is configured.", {
      hint: 'Pass --name NAME, set CCHAT_NAME, or add "name" to the config file.',
    });
  }
  return validateAgentName(config.name);
}

/** The homeserver from the configuration, else from the stored login. */
export function requireHomeserver(config: Config, stored: Credentials | undefined): string {
  const homeserver = config.homeserver ?? stored?.homeserver;
  if (!homeserver) {
    throw new ConfigError("No homeserver is configured.", {
      hint: 'Set CCHAT_HOMESERVER (or pass --homeserver URL), or run "cchat login --homeserver ' +
        'URL --user NAME".',
    });
  }
  return homeserver;
}

/** The login this cchat acts with, as the configuration and the stored login say. */
export interface Login {
  config: Config;
  stored: Credentials | undefined;
  /** The configured homeserver, else the stored login's; checked when `readLogin` was asked to. */
  homeserver: string | undefined;
  token: string;
  /** The token came from CCHAT_ACCESS_TOKEN: whose it is was never stored with it. */
  fromEnv: boolean;
}

/**
 * The login, or the error that says what is missing. With `homeserver`, the
 * homeserver is asked for first: without one, no login can be made either.
 */
export async function readLogin(
  deps: Deps,
  flags: FlagValues = {},
  options: { homeserver?: boolean } = {},
): Promise<Login> {
  const config = await loadConfig(deps, flags);
  const stored = await readCredentials(config.configDir);
  const homeserver = options.homeserver
    ? requireHomeserver(config, stored)
    : config.homeserver ?? stored?.homeserver;
  const envToken = deps.env("CCHAT_ACCESS_TOKEN");
  const token = envToken ?? stored?.accessToken;
  if (!token) {
    throw new ConfigError("Not logged in.", {
      hint: 'Run "cchat login --homeserver URL --user NAME", or set CCHAT_ACCESS_TOKEN.',
    });
  }
  return { config, stored, homeserver, token, fromEnv: envToken !== undefined };
}

/** The data file's side of an agent: its inbox and the signals around it. */
export interface Local {
  config: Config;
  userId: string;
  store: Store;
  /** The daemon's status, filter ids and the lease of its sync loop. */
  records: DaemonRecords;
  /** Rung by the daemon when it stores messages; readers wait on it. */
  inbox: ChangeSignal;
  /** Rung by readers when they leave read receipts; the daemon posts them at once. */
  receipts: ChangeSignal;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface LocalOptions {
  /**
   * The data directory's KV file, already open: a process hosting several
   * agents opens it once for all. It is then left open.
   */
  kv?: Deno.Kv;
}

/**
 * The data file an operation works on: the one already open (given, or held
 * by the face), which it leaves open, or its own, which `close` closes.
 */
export async function dataFileOf(
  ctx: OpContext,
  config: Config,
  options: LocalOptions,
): Promise<{ kv: Deno.Kv; close: () => void }> {
  const held = options.kv ?? ctx.dataFile?.kv;
  if (held) return { kv: held, close: () => {} };
  const kv = await openDataKv(ctx.deps, config.dataDir);
  return { kv, close: () => kv.close() };
}

/**
 * Opens the local side with no request to anyone. A token from the
 * environment must have been seen by an earlier session that asked the
 * homeserver whose it is (the daemon, `status`).
 */
export async function openLocal(
  ctx: OpContext,
  flags: FlagValues = {},
  options: LocalOptions = {},
): Promise<Local> {
  const { deps } = ctx;
  const login = await readLogin(deps, flags);
  const { kv, close } = await dataFileOf(ctx, login.config, options);
  try {
    const userId = login.fromEnv
      ? await knownUserOfToken(kv, deps, login.token)
      : login.stored!.userId;
    if (userId === undefined) {
      throw new ConfigError("Whose access token CCHAT_ACCESS_TOKEN is, is not known here yet.", {
        hint: 'Run "cchat status" once with it, or start the daemon with it: either asks the ' +
          "homeserver and keeps the answer in the data directory.",
      });
    }
    return await localFor(ctx, login.config, userId, kv, close);
  } catch (err) {
    close();
    throw err;
  }
}

/** The local side of `userId` over an open data file; disposing of it calls `close`. */
export async function localFor(
  ctx: OpContext,
  config: Config,
  userId: string,
  kv: Deno.Kv,
  close: () => void,
): Promise<Local> {
  const { deps, dataFile } = ctx;
  const signal = (name: string) => {
    const path = `${config.dataDir}/${name}.signal`;
    return dataFile ? dataFile.signals.signal(path) : fileSignal(path, deps);
  };
  return {
    config,
    userId,
    store: new Store(kv, deps, userId, config.inboxRetentionMs),
    records: new DaemonRecords(kv, deps, userId),
    inbox: await signal("inbox"),
    receipts: await signal("receipts"),
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  };
}
