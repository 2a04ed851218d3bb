/** A SpaceEnv over a scripted homeserver on virtual time, for the unit tests of src/space/. */
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { spaceEnv } from "../../src/space/env.ts";
import { RoomCache } from "../../src/store/room_cache.ts";
import { agentRoom } from "../../src/space/rooms.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "./fakes.ts";

export const ME = "@me:hs";
export const err = (status: number, errcode: string, headers: Record<string, string> = {}) =>
  json({ errcode, error: errcode }, status, headers);

/**
 * A SpaceEnv over `handler`. Unless `scriptedProofs`, the reads of a room's
 * creation and power levels are answered as by a server whose rooms cchat
 * made for ME, so the scripts need not repeat them.
 */
export function spaceFixture(
  handler: (r: RecordedRequest) => Response | Promise<Response>,
  options: {
    cache?: (clock: VirtualClock) => RoomCache;
    random?: () => number;
    scriptedProofs?: boolean;
  } = {},
) {
  const clock = new VirtualClock();
  const fake = fakeFetch(
    options.scriptedProofs ? handler : (r) => roomProofAnswer(r) ?? handler(r),
    clock,
  );
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

/** The state that proves a room cchat made for `owner`: its creation and its power levels. */
export function cchatRoomState(owner = ME) {
  const levels =
    agentRoom({ owner, federate: false, name: "x", spaceId: "!space", serverName: "hs" })
      .power_level_content_override;
  return [
    { type: "m.room.create", state_key: "", sender: owner, content: {}, event_id: "$create" },
    {
      type: "m.room.power_levels",
      state_key: "",
      sender: owner,
      content: levels,
      event_id: "$levels",
    },
  ];
}

/**
 * Answers the reads that check a room is one cchat made (its creation and
 * power levels, or its whole state), as a server whose rooms all are.
 */
export function cchatRoomAnswer(r: RecordedRequest, owner = ME): Response | undefined {
  if (r.method !== "GET") return undefined;
  return isRoomState(r) ? json(cchatRoomState(owner)) : roomProofAnswer(r, owner);
}

/** Answers the single reads of a room's creation and power levels, as for a room cchat made. */
function roomProofAnswer(r: RecordedRequest, owner = ME): Response | undefined {
  if (r.method !== "GET") return undefined;
  const type = /\/state\/(m\.room\.create|m\.room\.power_levels)\/$/.exec(
    decodeURIComponent(r.url.pathname),
  )?.[1];
  return type ? json(cchatRoomState(owner).find((e) => e.type === type)) : undefined;
}
