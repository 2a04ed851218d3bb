import assert from "node:assert/strict";
import { CchatError, MatrixError, NetworkError, RateLimitError } from "../../src/errors.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { AgentCache } from "../../src/space/cache.ts";
import { SpaceManager, STARTUP_JITTER_MAX_MS } from "../../src/space/space.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "../support/fakes.ts";

const ME = "@me:hs";
const err = (status: number, errcode: string, headers: Record<string, string> = {}) =>
  json({ errcode, error: errcode }, status, headers);

function manager(
  handler: (r: RecordedRequest) => Response | Promise<Response>,
  options: { cache?: (clock: VirtualClock) => AgentCache; random?: () => number } = {},
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
  const spaces = new SpaceManager({
    client,
    userId: ME,
    prefix: "agents",
    federate: false,
    deps,
    log: { warn: (m) => log.warnings.push(m), debug: (m) => log.debug.push(m) },
    cache: options.cache?.(clock),
  });
  const calls = () => fake.requests.map((r) => `${r.method} ${decodeURIComponent(r.url.pathname)}`);
  return { spaces, clock, requests: fake.requests, calls, log };
}

const isJoin = (r: RecordedRequest) => r.method === "POST" && r.url.pathname.includes("/join/");
const isCreate = (r: RecordedRequest) => r.url.pathname.endsWith("/createRoom");

Deno.test("ensureRoom", async (t) => {
  await t.step("joins an existing room without creating one", async () => {
    const { spaces, clock, calls } = manager(() => json({ room_id: "!space" }));
    assert.equal(await clock.run(spaces.ensureSpace()), "!space");
    assert.deepEqual(calls(), ["POST /_matrix/client/v3/join/#agents:hs"]);
  });

  await t.step("creates the Space with its alias, type and power levels when unknown", async () => {
    const { spaces, clock, requests } = manager((r) =>
      isJoin(r) ? err(404, "M_NOT_FOUND") : json({ room_id: "!new" })
    );
    assert.equal(await clock.run(spaces.ensureSpace()), "!new");
    const body = requests[1].body as Record<string, Record<string, unknown>>;
    assert.equal(body.room_alias_name as unknown, "agents");
    assert.deepEqual(body.creation_content, { type: "m.space", "m.federate": false });
    const power = body.power_level_content_override as Record<string, unknown>;
    assert.equal(power.events_default, 100);
    assert.equal((power.events as Record<string, number>)["m.space.child"], 0);
    assert.equal((power.events as Record<string, number>)["m.room.power_levels"], 100);
    assert.deepEqual(power.users, { [ME]: 100 });
  });

  for (const [status, errcode] of [[400, "M_ROOM_IN_USE"], [409, "M_UNKNOWN"]] as const) {
    await t.step(
      `after losing the race (${status} ${errcode}) joins the winner, retrying early 403/404`,
      async () => {
        let joins = 0;
        const { spaces, clock, requests } = manager((r) => {
          if (isCreate(r)) return err(status, errcode);
          joins++;
          if (joins === 1) return err(404, "M_NOT_FOUND");
          if (joins === 2) return err(404, "M_NOT_FOUND");
          if (joins === 3) return err(403, "M_FORBIDDEN");
          return json({ room_id: "!winner" });
        });
        assert.equal(await clock.run(spaces.ensureLobby()), "!winner");
        assert.equal(requests.filter(isCreate).length, 1);
        assert.deepEqual(clock.sleeps, [200, 400]);
      },
    );
  }

  await t.step("propagates every other error", async () => {
    const create = manager((r) =>
      isJoin(r) ? err(404, "M_NOT_FOUND") : err(400, "M_INVALID_PARAM")
    );
    await create.clock.run(
      assert.rejects(create.spaces.ensureSpace(), { errcode: "M_INVALID_PARAM" }),
    );
    const join = manager(() => err(403, "M_FORBIDDEN"));
    await join.clock.run(assert.rejects(join.spaces.ensureSpace(), { status: 403 }));
  });

  await t.step("gives up joining the winner after a few tries", async () => {
    let joins = 0;
    const { spaces, clock, requests } = manager((r) => {
      if (isCreate(r)) return err(400, "M_ROOM_IN_USE");
      return ++joins === 1 ? err(404, "M_NOT_FOUND") : err(403, "M_FORBIDDEN");
    });
    await clock.run(assert.rejects(spaces.ensureSpace(), { status: 403 }));
    assert.equal(requests.filter(isJoin).length, 1 + 5);
  });
});

Deno.test("open degrades to lobby-only mode when the Space is unavailable", async (t) => {
  await t.step("a forbidden Space: one warning, spaceId null, lobby still joined", async () => {
    const { spaces, clock, log } = manager((r) =>
      decodeURIComponent(r.url.pathname).endsWith("#agents:hs")
        ? err(403, "M_FORBIDDEN")
        : json({ room_id: "!lobby" })
    );
    assert.deepEqual(await clock.run(spaces.open()), { spaceId: null, lobbyId: "!lobby" });
    assert.equal(log.warnings.length, 1);
    assert.match(
      log.warnings[0],
      /The Space "#agents:hs" is unavailable \(403 M_FORBIDDEN\); working in lobby-only mode\./,
    );
  });
  await t.step("with a Space: both ids", async () => {
    const { spaces, clock } = manager((r) =>
      json({
        room_id: decodeURIComponent(r.url.pathname).endsWith("#agents:hs") ? "!space" : "!lobby",
      })
    );
    assert.deepEqual(await clock.run(spaces.open()), { spaceId: "!space", lobbyId: "!lobby" });
  });
  await t.step(
    "rate limits and unreachable servers propagate for the caller to retry",
    async () => {
      const limited = manager(() => err(429, "M_LIMIT_EXCEEDED", { "retry-after": "500" }));
      await limited.clock.run(assert.rejects(limited.spaces.open(), RateLimitError));
      const down = manager(() => Promise.reject(new TypeError("refused")));
      await down.clock.run(assert.rejects(down.spaces.open(), NetworkError));
    },
  );
});

Deno.test("startupJitter waits 0–2 s before anything else", async () => {
  for (const random of [0, 0.5, 0.999999]) {
    const { spaces, clock, requests } = manager(() => json({ room_id: "!r" }), {
      random: () => random,
    });
    const delay = await clock.run(spaces.startupJitter());
    assert.ok(delay >= 0 && delay < STARTUP_JITTER_MAX_MS);
    assert.equal(delay, Math.floor(random * STARTUP_JITTER_MAX_MS));
    assert.deepEqual(clock.sleeps, [delay]);
    assert.equal(requests.length, 0);
  }
});

Deno.test("registerAgent", async (t) => {
  await t.step("creates the room restricted to the Space and links both ways", async () => {
    const { spaces, clock, requests, calls } = manager((r) =>
      isJoin(r) ? err(404, "M_NOT_FOUND") : json({ room_id: "!bob", event_id: "$e" })
    );
    assert.equal(
      await clock.run(spaces.registerAgent("bob", { host: "h", version: "v" }, "!space")),
      "!bob",
    );
    const create = requests.find(isCreate)!.body as Record<string, unknown>;
    assert.equal(create.room_alias_name, "agents-bob");
    const initial = create.initial_state as { type: string; content: Record<string, unknown> }[];
    assert.deepEqual(initial.find((e) => e.type === "m.room.join_rules")!.content, {
      join_rule: "restricted",
      allow: [{ type: "m.room_membership", room_id: "!space" }],
    });
    assert.deepEqual(calls().slice(2).sort(), [
      "PUT /_matrix/client/v3/rooms/!bob/state/dev.cchat.agent/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.room.join_rules/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.space.parent/!space",
      "PUT /_matrix/client/v3/rooms/!space/state/m.space.child/!bob",
    ]);
    const child = requests.find((r) => r.url.pathname.includes("m.space.child"))!;
    assert.deepEqual(child.body, { via: ["hs"] });
    const profile = requests.find((r) => r.url.pathname.includes("dev.cchat.agent"))!;
    assert.deepEqual(profile.body, { name: "bob", user_id: ME, host: "h", version: "v" });
  });

  await t.step("a name owned by another account says so", async () => {
    const { spaces, clock } = manager((r) =>
      r.method === "PUT" ? err(403, "M_FORBIDDEN") : json({ room_id: "!bob" })
    );
    await clock.run(
      assert.rejects(
        spaces.registerAgent("bob", { host: "h", version: "v" }, "!space"),
        (failure: Error) => {
          assert.ok(failure instanceof CchatError);
          assert.match(failure.message, /The agent name "bob" belongs to another account\./);
          return true;
        },
      ),
    );
  });

  await t.step("other failures propagate unchanged", async () => {
    const { spaces, clock } = manager((r) =>
      r.method === "PUT" ? err(500, "M_UNKNOWN") : json({ room_id: "!bob" })
    );
    await clock.run(
      assert.rejects(
        spaces.registerAgent("bob", { host: "h", version: "v" }, "!space"),
        (failure: Error) => {
          assert.ok(failure instanceof MatrixError);
          assert.equal(failure.status, 500);
          return true;
        },
      ),
    );
  });

  await t.step("rejects a bad name before any request", async () => {
    const { spaces, clock, requests } = manager(() => json({}));
    await clock.run(
      assert.rejects(spaces.registerAgent("a:b", { host: "h", version: "v" }, "!space")),
    );
    assert.equal(requests.length, 0);
  });
});

Deno.test("agentRoom uses the cache before the alias", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const { spaces, clock, calls } = manager(() => json({ room_id: "!bob", servers: ["hs"] }), {
      cache: (c) =>
        new AgentCache(c.realKv(kv), { now: c.now, sleep: c.sleep, random: () => 0.5 }, {
          namespace: "test",
        }),
    });
    assert.equal(await clock.run(spaces.agentRoom("bob")), "!bob");
    assert.equal(await clock.run(spaces.agentRoom("bob")), "!bob");
    assert.deepEqual(calls(), ["GET /_matrix/client/v3/directory/room/#agents-bob:hs"]);
  } finally {
    kv.close();
  }
});

Deno.test("listAgents", async (t) => {
  const NOW = 1_700_000_000_000;
  const beat = (user: string, name: string, ageMs: number, status = "online") => ({
    type: "dev.cchat.heartbeat",
    state_key: user,
    sender: user,
    event_id: `$${name}`,
    origin_server_ts: NOW - ageMs,
    content: { name, status, seq: 1, interval_ms: 10_000, host: `${name}-host`, version: "0.1.0" },
  });
  const child = (room: string, sender: string, via: unknown) => ({
    type: "m.space.child",
    state_key: room,
    sender,
    origin_server_ts: 0,
    content: via === undefined ? {} : { via },
  });

  await t.step("with a Space: hierarchy plus lobby beats, skipping the broken", async () => {
    const { spaces, clock, log, calls } = manager((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (p.endsWith("/hierarchy")) {
        return json({
          rooms: [
            {
              room_id: "!space",
              children_state: [
                child("!a", "@a:hs", ["hs"]),
                child("!b", "@b:hs", ["hs"]),
                child("!c", "@c:hs", ["hs"]),
                child("!d", "@d:hs", ["hs"]),
                child("!empty", "@e:hs", []),
                child("!novia", "@f:hs", undefined),
                child("!hidden", "@g:hs", ["hs"]),
                child("!notagent", "@h:hs", ["hs"]),
              ],
            },
            { room_id: "!a", canonical_alias: "#agents-a:hs", children_state: [] },
            { room_id: "!b", canonical_alias: "#agents-b:hs", children_state: [] },
            { room_id: "!c", canonical_alias: "#agents-c:hs", children_state: [] },
            { room_id: "!d", canonical_alias: "#agents-d:hs", children_state: [] },
            { room_id: "!empty", canonical_alias: "#agents-e:hs", children_state: [] },
            { room_id: "!notagent", canonical_alias: "#random:hs", children_state: [] },
          ],
        });
      }
      if (p.endsWith("!lobby/state")) {
        return json([
          beat("@a:hs", "a", 5_000),
          { ...beat("@x:hs", "x", 1), content: { garbage: true } },
          { type: "m.room.member", state_key: "@a:hs", sender: "@a:hs", content: {} },
        ]);
      }
      if (p.includes("!b/state/")) return json(beat("@b:hs", "b", 60_000));
      if (p.includes("!c/state/")) return err(403, "M_FORBIDDEN");
      if (p.includes("!d/state/")) return err(404, "M_NOT_FOUND");
      return err(500, "M_UNKNOWN");
    });
    clock.time = NOW;
    const agents = await clock.run(spaces.listAgents({ spaceId: "!space", lobbyId: "!lobby" }));
    assert.deepEqual(agents.map((a) => [a.name, a.status, a.lastBeatAgeMs, a.roomId, a.host]), [
      ["a", "online", 5_000, "!a", "a-host"],
      ["b", "offline", 60_000, "!b", "b-host"],
      ["c", "offline", null, "!c", ""],
      ["d", "offline", null, "!d", ""],
    ]);
    assert.ok(!calls().some((c) => c.includes("!a/state/")), "a's lobby beat spares a room read");
    for (
      const expected of [
        /"!empty"/,
        /"!novia"/,
        /"!hidden": not a visible agent room/,
        /"!notagent"/,
        /malformed/,
        /"!c" \(403/,
        /"!d" \(404/,
      ]
    ) {
      assert.ok(
        log.debug.some((line) => expected.test(line)),
        `no debug note matching ${expected}`,
      );
    }
  });

  await t.step("a room failing otherwise is an error", async () => {
    const { spaces, clock } = manager((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (p.endsWith("/hierarchy")) {
        return json({
          rooms: [{ room_id: "!space", children_state: [child("!a", "@a:hs", ["hs"])] }, {
            room_id: "!a",
            canonical_alias: "#agents-a:hs",
            children_state: [],
          }],
        });
      }
      if (p.endsWith("!lobby/state")) return json([]);
      return err(500, "M_UNKNOWN");
    });
    await clock.run(
      assert.rejects(spaces.listAgents({ spaceId: "!space", lobbyId: "!lobby" }), { status: 500 }),
    );
  });

  await t.step("a Space missing from its own hierarchy lists nobody", async () => {
    const { spaces, clock } = manager((r) =>
      r.url.pathname.endsWith("/hierarchy") ? json({ rooms: [] }) : json([])
    );
    assert.deepEqual(
      await clock.run(spaces.listAgents({ spaceId: "!space", lobbyId: "!lobby" })),
      [],
    );
  });

  await t.step("without a Space: the lobby's beats are the directory, same fields", async () => {
    const { spaces, clock, log } = manager(() =>
      json([
        beat("@a:hs", "a", 1_000),
        beat("@b:hs", "b", 1_000, "offline"),
        beat("@z:hs", "Bad Name", 1),
      ])
    );
    clock.time = NOW;
    const agents = await clock.run(spaces.listAgents({ spaceId: null, lobbyId: "!lobby" }));
    assert.deepEqual(agents, [
      {
        name: "a",
        userId: "@a:hs",
        roomId: null,
        alias: "#agents-a:hs",
        status: "online",
        lastBeatAgeMs: 1000,
        host: "a-host",
        version: "0.1.0",
      },
      {
        name: "b",
        userId: "@b:hs",
        roomId: null,
        alias: "#agents-b:hs",
        status: "offline",
        lastBeatAgeMs: 1000,
        host: "b-host",
        version: "0.1.0",
      },
    ]);
    assert.ok(log.debug.some((line) => /unusable name "Bad Name"/.test(line)));
  });
});
