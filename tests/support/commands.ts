/**
 * The commands as a user runs them, in this process: runCli on fake deps with
 * a scripted homeserver (fakeFetch), virtual time, and temp XDG directories.
 */
import { runCli } from "../../src/cli.ts";
import { writeCredentials } from "../../src/credentials.ts";
import { Store } from "../../src/store/store.ts";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import type { Deps } from "../../src/deps.ts";
import { fakeDeps, fakeFetch, type Handler, type RecordedRequest, VirtualClock } from "./fakes.ts";

export const HS = "http://hs.test";
export const BOB = "@bob:hs.test";

export const noRequests: Handler = (r) => {
  throw new Error(`unexpected request ${r.method} ${r.url.pathname}`);
};

/** `text` as a standard input stream. */
export function stdinOf(text: string | Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(typeof text === "string" ? new TextEncoder().encode(text) : text);
      c.close();
    },
  });
}

/** A fake deps object whose XDG directories are a fresh temp dir, removed on dispose. */
export async function commandHarness(handler: Handler = noRequests, overrides: Partial<Deps> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "cchat-command-" });
  const clock = new VirtualClock();
  const fake = fakeFetch(handler, clock);
  const { deps, stdout, stderr, env } = fakeDeps({ fetch: fake.fetch, ...overrides }, clock);
  env.HOME = dir;
  env.XDG_CONFIG_HOME = `${dir}/config`;
  env.XDG_STATE_HOME = `${dir}/state`;
  const configDir = `${dir}/config/cchat`;
  const dataDir = `${dir}/state/cchat`;
  return {
    deps,
    stdout,
    stderr,
    env,
    clock,
    requests: fake.requests,
    configDir,
    dataDir,
    cli: (...args: string[]) => clock.run(runCli(args, deps)),
    /** Runs the command with `input` on its standard input. */
    cliWithStdin: (input: string, ...args: string[]) =>
      clock.run(runCli(args, { ...deps, stdin: stdinOf(input) })),
    login: (userId = BOB) =>
      writeCredentials(configDir, {
        homeserver: HS,
        userId,
        accessToken: "stored-token",
        deviceId: "DEV",
      }),
    /** Runs `work` on the same KV file the commands use, then closes it. */
    async store<T>(work: (store: Store) => Promise<T>, userId = BOB): Promise<T> {
      await Deno.mkdir(dataDir, { recursive: true });
      const kv = await Deno.openKv(`${dataDir}/cchat.kv`);
      try {
        return await work(
          new Store(kv, { now: clock.now, sleep: clock.sleep, random: () => 0.5 }, userId),
        );
      } finally {
        kv.close();
      }
    },
    /** Runs `work` on the daemon's records in the same KV file, then closes it. */
    async records<T>(work: (records: DaemonRecords) => Promise<T>, userId = BOB): Promise<T> {
      await Deno.mkdir(dataDir, { recursive: true });
      const kv = await Deno.openKv(`${dataDir}/cchat.kv`);
      try {
        return await work(new DaemonRecords(kv, { sleep: clock.sleep, random: () => 0.5 }, userId));
      } finally {
        kv.close();
      }
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

export const V3 = "/_matrix/client/v3";

/** A request as "METHOD /path", decoded. */
export const call = (r: RecordedRequest) => `${r.method} ${decodeURIComponent(r.url.pathname)}`;

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
