/**
 * The commands as a user runs them, in this process: runCli on fake deps with
 * a scripted homeserver (fakeFetch), virtual time, and temp XDG directories.
 */
import { runCli } from "../../src/cli.ts";
import { writeCredentials } from "../../src/credentials.ts";
import { Store } from "../../src/store/store.ts";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import type { Deps } from "../../src/deps.ts";
import {
  fakeDeps,
  fakeFetch,
  type Handler,
  json,
  type RecordedRequest,
  VirtualClock,
} from "./fakes.ts";
import { cchatRoomState } from "./space.ts";

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

/**
 * A homeserver with a lobby and one agent's room: the Space names the room
 * in the agent's own entry, the agent made it, and every send is answered
 * with `$sentN` (the first with `firstSend` as its status, when given).
 */
export function agentRoomHomeserver(
  options: { name: string; owner: string; whoami?: string; firstSend?: number },
): Handler {
  const { name, owner } = options;
  const roomId = `!${name}:hs.test`;
  let sends = 0;
  return (r) => {
    const p = decodeURIComponent(r.url.pathname);
    if (p === `${V3}/account/whoami`) return json({ user_id: options.whoami ?? BOB });
    if (p === `${V3}/directory/room/#agents-lobby:hs.test`) {
      return json({ room_id: "!lobby:hs.test" });
    }
    if (p === `${V3}/directory/room/#agents:hs.test`) return json({ room_id: "!space:hs.test" });
    const entry = {
      type: "dev.cchat.agent",
      state_key: owner,
      sender: owner,
      content: { name, room_id: roomId },
    };
    if (p === `${V3}/rooms/!space:hs.test/state/dev.cchat.agent/${owner}`) return json(entry);
    if (r.method === "GET" && p === `${V3}/rooms/!space:hs.test/state`) return json([entry]);
    if (p === `${V3}/rooms/${roomId}/joined_members`) {
      return json({ joined: { [owner]: {}, "@alice:hs.test": {} } });
    }
    if (r.method === "GET" && p === `${V3}/rooms/${roomId}/state`) {
      return json(cchatRoomState(owner));
    }
    if (p.startsWith(`${V3}/join/`)) return json({ room_id: roomId });
    if (r.method === "PUT" && p.includes("/send/m.room.message/")) {
      sends++;
      if (sends === 1 && options.firstSend) {
        return json({ errcode: "M_FORBIDDEN", error: "not in room" }, options.firstSend);
      }
      return json({ event_id: `$sent${sends}` });
    }
    return json({ errcode: "M_UNRECOGNIZED", error: p }, 404);
  };
}
