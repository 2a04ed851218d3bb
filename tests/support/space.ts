/** A SpaceEnv over a scripted homeserver on virtual time, for the unit tests of src/space/. */
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { spaceEnv } from "../../src/space/env.ts";
import { RoomCache } from "../../src/space/room_cache.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "./fakes.ts";

export const ME = "@me:hs";
export const err = (status: number, errcode: string, headers: Record<string, string> = {}) =>
  json({ errcode, error: errcode }, status, headers);

export function spaceFixture(
  handler: (r: RecordedRequest) => Response | Promise<Response>,
  options: { cache?: (clock: VirtualClock) => RoomCache; random?: () => number } = {},
) {
  const clock = new VirtualClock();
  const fake = fakeFetch(handler, clock);
  const deps = {
    fetch: fake.fetch,
    now: clock.now,
    sleep: clock.sleep,
    random: options.random ?? (() => 0.5),
  };
  const client = new MatrixClient(
    new MatrixHttp({ baseUrl: "http://hs.test", accessToken: "t", deps }),
  );
  const log = { warnings: [] as string[], debug: [] as string[] };
  const env = spaceEnv({
    client,
    userId: ME,
    prefix: "agents",
    federate: false,
    deps,
    log: {
      info: () => {},
      warn: (m) => log.warnings.push(m),
      debug: (m) => log.debug.push(m),
    },
    cache: options.cache?.(clock),
  });
  const calls = () => fake.requests.map((r) => `${r.method} ${decodeURIComponent(r.url.pathname)}`);
  return { env, clock, requests: fake.requests, calls, log };
}

export const isJoin = (r: RecordedRequest) =>
  r.method === "POST" && r.url.pathname.includes("/join/");
export const isCreate = (r: RecordedRequest) => r.url.pathname.endsWith("/createRoom");
/** A read of a room's whole state, which registration makes before it writes. */
export const isRoomState = (r: RecordedRequest) =>
  r.method === "GET" && r.url.pathname.endsWith("/state");

/** A fixture whose room cache lives in a KV of its own, closed when the fixture is disposed. */
export async function cachedSpaceFixture(
  handler: (r: RecordedRequest) => Response | Promise<Response>,
) {
  const kv = await Deno.openKv(":memory:");
  const fixture = spaceFixture(handler, {
    cache: (clock) =>
      new RoomCache(clock.realKv(kv), { now: clock.now, sleep: clock.sleep, random: () => 0.5 }, {
        namespace: "test",
      }),
  });
  return { ...fixture, cache: fixture.env.cache!, [Symbol.dispose]: () => kv.close() };
}
