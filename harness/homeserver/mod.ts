/**
 * A real local Synapse homeserver on loopback, for the demo, the benchmarks
 * and the integration tests; `deno task homeserver` is its command line.
 */

import { resolve as resolvePath } from "node:path";
import { realSleep } from "../../src/deps.ts";
import { CchatError, ExitCode, UsageError } from "../../src/errors.ts";
import { registerWithSharedSecret } from "../../src/matrix/admin.ts";
import { anonymousHttp } from "../matrix.ts";
import {
  type Database,
  type Launcher,
  type Limits,
  paths,
  readSecret,
  readState,
  removeState,
  SERVER_NAME,
  type ServerState,
  writeConfig,
  writeState,
} from "./config.ts";
import { answers, externalHomeserver } from "./external.ts";
import {
  bindAddress,
  containerLogs,
  isAlive,
  pickRunner,
  restartPostgres,
  stopServer,
} from "./launchers.ts";

export type { Database, Launcher, Limits, ServerState };

export const DEFAULT_PORT = 18448;

export type Env = (name: string) => string | undefined;

export interface StartOptions {
  dataDir: string;
  port: number;
  limits: Limits;
  /** YAML written to `DATA_DIR/conf.d/60-extra.yaml`, e.g. low rate limits for a test. */
  extraConfig?: string;
  /** SQLite when absent. */
  database?: Database;
  /** Where CCHAT_TEST_HOMESERVER and CCHAT_TEST_REGISTRATION_SECRET are read; the process env by default. */
  env?: Env;
}

export interface Homeserver {
  route: Launcher | "external";
  baseUrl: string;
  serverName: string;
  registrationSecret: string;
  /** Synapse's host pid (chroot route). */
  pid?: number;
  /** Container name (docker route). */
  container?: string;
  /** Whether a server that was already running is being reused. */
  reused: boolean;
}

const note = (message: string) => console.error(message);

/** `${XDG_CACHE_HOME:-$HOME/.cache}/cchat`, where homeserver data dirs live by default. */
export function cchatCacheDir(env: Env = Deno.env.get): string {
  const cache = env("XDG_CACHE_HOME") || (env("HOME") && `${env("HOME")}/.cache`);
  if (!cache) {
    throw new UsageError("Neither XDG_CACHE_HOME nor HOME is set.", {
      hint: "Set one of them, or pass a data directory explicitly.",
    });
  }
  return `${cache}/cchat`;
}

export const defaultDataDir = (env: Env = Deno.env.get) => `${cchatCacheDir(env)}/homeserver`;

/** Starts Synapse from `dataDir`, or reuses it when it already runs with the same config. */
export async function startHomeserver(options: StartOptions): Promise<Homeserver> {
  const external = await externalHomeserver(options.env ?? Deno.env.get);
  if (external) return external;
  checkPort(options.port);
  const dataDir = await canonicalDir(options.dataDir, true);
  using _lock = await lockDataDir(dataDir);
  const registrationSecret = () => readSecret(dataDir);

  const previous = await readState(dataDir);
  if (previous && await isAlive(previous, dataDir)) {
    const hash = await writeConfig({
      ...options,
      dataDir,
      bindAddress: bindAddress(previous.route),
    });
    if (hash === previous.configHash && await answers(previous.baseUrl)) {
      note(`Homeserver already running from "${dataDir}" (${describe(previous)}).`);
      return {
        ...fromState(previous),
        registrationSecret: await registrationSecret(),
        reused: true,
      };
    }
    note(`Restarting the homeserver from "${dataDir}" to apply its configuration.`);
  }
  if (previous) {
    await stopServer(previous, dataDir);
    await removeState(dataDir);
  }

  if (!portIsFree(options.port)) {
    throw new CchatError(
      `Port "${options.port}" is already in use by another program. Pass another port, ` +
        `or run "deno task homeserver stop DATA_DIR" for the homeserver that holds it.`,
    );
  }
  const runner = await pickRunner();
  const configHash = await writeConfig({
    ...options,
    dataDir,
    bindAddress: bindAddress(runner.route),
  });
  const logStart = await fileSize(paths(dataDir).log);
  const state: ServerState = {
    route: runner.route,
    port: options.port,
    baseUrl: `http://127.0.0.1:${options.port}`,
    serverName: SERVER_NAME,
    configHash,
    startedAt: new Date().toISOString(),
    database: options.database ?? "sqlite",
    ...await runner.launch(dataDir, options.port, options.database ?? "sqlite"),
  };
  await writeState(dataDir, state);
  try {
    await waitUntilAnswering(state, dataDir, logStart);
  } catch (e) {
    await stopServer(state, dataDir);
    await removeState(dataDir);
    throw e;
  }
  note(`Homeserver started from "${dataDir}" (${describe(state)}).`);
  return { ...fromState(state), registrationSecret: await registrationSecret(), reused: false };
}

/** Stops the server started from `dataDir`; returns whether one was running. */
export async function stopHomeserver(dataDir: string): Promise<boolean> {
  const dir = await canonicalDir(dataDir);
  // Nothing to stop, and perhaps no dir to hold the lock file.
  if (!await readState(dir)) return false;
  using _lock = await lockDataDir(dir);
  const state = await readState(dir);
  if (!state) return false;
  const wasAlive = await isAlive(state, dir);
  await stopServer(state, dir);
  await removeState(dir);
  return wasAlive;
}

/** Restarts the PostgreSQL of the homeserver of `dataDir` while Synapse runs on. */
export async function restartHomeserverDatabase(dataDir: string): Promise<void> {
  const dir = await canonicalDir(dataDir);
  using _lock = await lockDataDir(dir);
  const state = await readState(dir);
  if (state?.database !== "postgres") {
    throw new CchatError(`The homeserver of "${dir}" runs on no PostgreSQL.`);
  }
  const postgresPid = await restartPostgres(state, dir);
  await writeState(dir, { ...state, ...(postgresPid === undefined ? {} : { postgresPid }) });
}

export interface Status {
  state: "running" | "not answering" | "stopped";
  server?: ServerState;
}

export async function homeserverStatus(dataDir: string): Promise<Status> {
  const dir = await canonicalDir(dataDir);
  const server = await readState(dir);
  if (!server || !await isAlive(server, dir)) return { state: "stopped" };
  return { state: await answers(server.baseUrl) ? "running" : "not answering", server };
}

/** Registers a user on the server running from `dataDir` (or the external one in the env). */
export async function registerUser(
  dataDir: string,
  user: { username: string; password: string; admin?: boolean },
  env: Env = Deno.env.get,
): Promise<{ userId: string; accessToken: string; deviceId: string }> {
  const external = await externalHomeserver(env);
  let baseUrl = external?.baseUrl;
  let secret = external?.registrationSecret;
  if (!baseUrl || !secret) {
    const dir = await canonicalDir(dataDir);
    const { state, server } = await homeserverStatus(dir);
    if (state !== "running" || !server) {
      throw new CchatError(`No homeserver is running from "${dir}".`, {
        hint: `Start one with "deno task homeserver start ${dir}".`,
        exitCode: ExitCode.unreachable,
      });
    }
    baseUrl = server.baseUrl;
    secret = await readSecret(dir);
  }
  return await registerWithSharedSecret(anonymousHttp(baseUrl), secret, user);
}

async function waitUntilAnswering(state: ServerState, dataDir: string, logStart: number) {
  const deadline = Date.now() + 120_000;
  let failure = `Synapse did not answer on "${state.baseUrl}" within 120 s.`;
  while (Date.now() < deadline) {
    if (await answers(state.baseUrl)) return;
    if (!await isAlive(state, dataDir, { justStarted: true })) {
      failure = `Synapse exited during startup (${state.route} route).`;
      break;
    }
    await realSleep(200);
  }
  // The log's tail goes into the message too: a test runner shows the message, not the hint.
  const log = await logHint(state, dataDir, logStart);
  throw new CchatError(`${failure}\n${log}`, { hint: log });
}

/** The end of this start's output: the log file, or the container's output under Docker. */
async function logHint(state: ServerState, dataDir: string, from: number): Promise<string> {
  const log = paths(dataDir).log;
  const text = state.route === "docker"
    ? await containerLogs(state)
    : (await Deno.readTextFile(log).catch(() => "")).slice(from);
  const tail = text.trimEnd().split("\n").slice(-20).join("\n") || "(nothing)";
  return `${state.route === "docker" ? "Its output" : `See "${log}"; it`} ended with:\n${tail}`;
}

const fileSize = (path: string) => Deno.stat(path).then((s) => s.size, () => 0);

function fromState(state: ServerState) {
  return {
    route: state.route,
    baseUrl: state.baseUrl,
    serverName: state.serverName,
    pid: state.pid,
    container: state.container,
  };
}

const describe = (state: ServerState) =>
  `${state.route} route, ${
    state.pid === undefined ? `container ${state.container}` : `pid ${state.pid}`
  }, ${state.database === "postgres" ? "PostgreSQL" : "SQLite"}, ${state.baseUrl}`;

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`Port "${port}" is not a TCP port.`, {
      hint: "Pass a whole number from 1 to 65535.",
    });
  }
}

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

/** The one spelling of a data dir: config paths, mount points and pid checks compare it. */
async function canonicalDir(dataDir: string, create = false): Promise<string> {
  if (create) await Deno.mkdir(dataDir, { recursive: true });
  return await Deno.realPath(dataDir).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return resolvePath(dataDir);
    throw e;
  });
}

/** Serialises start and stop on one data dir across processes (parallel test files). */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  const file = await Deno.open(paths(dataDir).lock, { create: true, write: true });
  await file.lock(true);
  return file;
}
