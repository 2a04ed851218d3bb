/**
 * The real `cchat` CLI as child processes, one private config and state
 * directory per agent, against a real homeserver. Children inherit
 * DENO_COVERAGE_DIR, so their coverage counts.
 */
import config from "../deno.json" with { type: "json" };
import { realSleep } from "../src/deps.ts";
import { writeCredentials } from "../src/credentials.ts";
import type { TestHomeserver, TestUser } from "./users.ts";

/**
 * The `cchat` task's flags, read from deno.json so that users, tests and the
 * compiled binary run cchat alike: its permissions (a missing one fails a
 * test), and its V8 flags. A young generation held to 1 MB semi-spaces keeps a
 * fleet daemon's memory near what it uses: left to grow, V8 keeps the room
 * its boot's garbage took (262 against 148 MB at 400 agents, docs/performance.md).
 */
export const CCHAT_RUN_FLAGS = config.tasks.cchat.command.split(/\s+/).filter((word) =>
  word.startsWith("--allow-") || word.startsWith("--v8-flags=")
);

/** `deno` arguments that run cchat from source as users do; append the command. */
export const CCHAT = ["run", ...CCHAT_RUN_FLAGS, new URL("../main.ts", import.meta.url).pathname];

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * `deno` arguments that run the bundle, as the `cchat` task and the compiled
 * binary do; `buildBundle` first. Append the command.
 */
export const CCHAT_BUNDLE = ["run", ...CCHAT_RUN_FLAGS, `${ROOT}dist/main.js`];

/** Runs the `bundle` task, so the bundle is the one deno.json describes. */
export async function buildBundle(): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bundle"],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno task bundle failed: ${new TextDecoder().decode(stderr)}`);
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface AgentCli {
  name: string;
  user: TestUser;
  env: Record<string, string>;
  run(args: string[], stdin?: string): Promise<CliResult>;
  /** `cchat daemon`, running until stopped. */
  daemon(extra?: string[]): RunningDaemon;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RunningDaemon {
  /** The daemon's own process: the deno binary, no wrapper between. */
  pid: number;
  /** SIGTERM for a clean stop, SIGKILL for a crash. */
  stop(signal?: Deno.Signal): Promise<CliResult>;
  /** Its end, by itself. */
  ended(): Promise<CliResult>;
}

export async function cchat(
  args: string[],
  env: Record<string, string>,
  stdin = "",
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...CCHAT, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** `cchat daemon ARGS`, running until stopped. */
export function spawnDaemon(args: string[], env: Record<string, string>): RunningDaemon {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...CCHAT, "daemon", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const ended = async () => {
    const { code, stdout, stderr } = await output;
    return { code, stdout: decode(stdout), stderr: decode(stderr) };
  };
  return {
    pid: child.pid,
    ended,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already gone; its output still tells why.
      }
      return await ended();
    },
  };
}

/** Stores `user`'s login where cchat looks with `XDG_CONFIG_HOME=configHome`. */
export async function writeLogin(
  configHome: string,
  baseUrl: string,
  user: TestUser,
): Promise<void> {
  await writeCredentials(`${configHome}/cchat`, {
    homeserver: baseUrl,
    userId: user.userId,
    accessToken: user.accessToken,
    deviceId: user.deviceId,
  });
}

export interface AgentOptions {
  prefix: string;
  /** Heartbeat interval in seconds. */
  interval?: number;
  /** The daemon's /sync long-poll in seconds. */
  syncTimeout?: number;
  extraEnv?: Record<string, string>;
}

/** An agent with a stored login (no password login: Synapse rate-limits those). */
export async function agentCli(
  hs: TestHomeserver,
  user: TestUser,
  name: string,
  options: AgentOptions,
): Promise<AgentCli> {
  const root = await Deno.makeTempDir({ prefix: `cchat-${name}-` });
  const env = {
    XDG_CONFIG_HOME: `${root}/config`,
    XDG_STATE_HOME: `${root}/state`,
    CCHAT_NAME: name,
    CCHAT_ALIAS_PREFIX: options.prefix,
    CCHAT_HEARTBEAT_INTERVAL: String(options.interval ?? 1),
    CCHAT_SYNC_TIMEOUT: String(options.syncTimeout ?? 2),
    ...options.extraEnv,
  };
  await writeLogin(`${root}/config`, hs.baseUrl, user);
  return {
    name,
    user,
    env,
    run: (args, stdin) => cchat(args, env, stdin),
    daemon: (extra = []) => spawnDaemon(extra, env),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** Polls `check` until it returns a value, or fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await realSleep(200);
  }
}

/** `cchat who --json` as a name → status map. */
export async function statuses(agent: AgentCli, all = true): Promise<Record<string, string>> {
  const result = await agent.run(["who", "--json", ...(all ? ["--all"] : [])]);
  if (result.code !== 0) throw new Error(`who failed (${result.code}): ${result.stderr}`);
  const report = JSON.parse(result.stdout) as { agents: { name: string; status: string }[] };
  return Object.fromEntries(report.agents.map((a) => [a.name, a.status]));
}
