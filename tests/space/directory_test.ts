import assert from "node:assert/strict";
import { CchatError, NetworkError, RateLimitError } from "../../src/errors.ts";
import { openDirectory } from "../../src/space/directory.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { cchatRoomAnswer, err, isCreate, isJoin, ME, spaceFixture } from "../support/space.ts";

Deno.test("open degrades to lobby-only mode when the Space is unavailable", async (t) => {
  await t.step("a forbidden Space: one warning, spaceId null, lobby still joined", async () => {
    const { env, clock, log } = spaceFixture((r) =>
      decodeURIComponent(r.url.pathname).endsWith("#agents:hs")
        ? err(403, "M_FORBIDDEN")
        : json({ room_id: "!lobby" })
    );
    assert.deepEqual(await clock.run(openDirectory(env, "create")), {
      spaceId: null,
      lobbyId: "!lobby",
    });
    assert.equal(log.warnings.length, 1);
    assert.match(
      log.warnings[0],
      /The Space "#agents:hs" is unavailable \(403 M_FORBIDDEN\); working in lobby-only mode\./,
    );
  });
  await t.step("with a Space: both ids", async () => {
    const { env, clock } = spaceFixture((r) =>
      json({
        room_id: decodeURIComponent(r.url.pathname).endsWith("#agents:hs") ? "!space" : "!lobby",
      })
    );
    assert.deepEqual(await clock.run(openDirectory(env, "create")), {
      spaceId: "!space",
      lobbyId: "!lobby",
    });
  });
  await t.step(
    "rate limits and unreachable servers propagate for the caller to retry",
    async () => {
      const limited = spaceFixture(() => err(429, "M_LIMIT_EXCEEDED", { "retry-after": "500" }));
      await limited.clock.run(
        assert.rejects(openDirectory(limited.env, "create"), RateLimitError),
      );
      const down = spaceFixture(() => Promise.reject(new TypeError("refused")));
      await down.clock.run(assert.rejects(openDirectory(down.env, "create"), NetworkError));
    },
  );
});

/**
 * A server where the Space and the lobby exist (or, with `missing`, are
 * created on demand), the lobby's link is `link`, and `creator` made the Space.
 */
function directoryServer(
  options: { link?: Record<string, unknown>; creator?: string; missing?: boolean } = {},
) {
  return (r: RecordedRequest) => {
    const p = decodeURIComponent(r.url.pathname);
    if (isJoin(r)) {
      if (options.missing) return err(404, "M_NOT_FOUND");
      return json({ room_id: p.endsWith("#agents:hs") ? "!space" : "!lobby" });
    }
    if (isCreate(r)) {
      const alias = (r.body as { room_alias_name: string }).room_alias_name;
      return json({ room_id: alias === "agents" ? "!space" : "!lobby" });
    }
    if (r.method === "GET" && p.endsWith("/state/m.space.child/!lobby")) {
      return options.link
        ? json({ sender: "@other:hs", content: options.link })
        : err(404, "M_NOT_FOUND");
    }
    const proof = cchatRoomAnswer(r, options.creator ?? "@other:hs");
    if (proof) return proof;
    return json({ event_id: "$e" });
  };
}
/** The server below answers who made its rooms itself. */
const SCRIPTED = { scriptedProofs: true };
const writes = (calls: string[]) => calls.filter((c) => c.startsWith("PUT "));
const LINK = "PUT /_matrix/client/v3/rooms/!space/state/m.space.child/!lobby";
const LISTING = "PUT /_matrix/client/v3/directory/list/room/!space";

Deno.test("opening with create access links the lobby into the Space", async (t) => {
  await t.step("a missing link is set, with the server as via", async () => {
    const { env, clock, calls, requests } = spaceFixture(directoryServer(), SCRIPTED);
    await clock.run(openDirectory(env, "create"));
    assert.deepEqual(writes(calls()), [LINK]);
    assert.deepEqual(requests.find((r) => r.method === "PUT")!.body, { via: ["hs"] });
  });
  await t.step("a link with a via is left alone; one without is set again", async () => {
    const kept = spaceFixture(directoryServer({ link: { via: ["hs"] } }), SCRIPTED);
    await kept.clock.run(openDirectory(kept.env, "create"));
    assert.deepEqual(writes(kept.calls()), []);
    const removed = spaceFixture(directoryServer({ link: {} }), SCRIPTED);
    await removed.clock.run(openDirectory(removed.env, "create"));
    assert.deepEqual(writes(removed.calls()), [LINK]);
  });
  await t.step(
    "a link through another server, written by any member, is set back to ours",
    async () => {
      for (const via of [["evil.example"], ["evil.example", "hs"]]) {
        const { env, clock, calls, requests } = spaceFixture(
          directoryServer({ link: { via } }),
          SCRIPTED,
        );
        await clock.run(openDirectory(env, "create"));
        assert.deepEqual(writes(calls()), [LINK], via.join(","));
        assert.deepEqual(requests.find((r) => r.method === "PUT")!.body, { via: ["hs"] });
      }
    },
  );
  await t.step("join and lookup access write nothing", async () => {
    for (const access of ["join", "lookup"] as const) {
      const { env, clock, calls } = spaceFixture(directoryServer(), SCRIPTED);
      await clock.run(openDirectory(env, access));
      assert.deepEqual(calls().filter((c) => c.includes("m.space.child")), [], access);
    }
  });
  await t.step("a refused link costs a warning, not the directory", async () => {
    const { env, clock, log } = spaceFixture((r) =>
      r.method === "PUT" ? err(403, "M_FORBIDDEN") : directoryServer()(r)
    );
    assert.deepEqual(await clock.run(openDirectory(env, "create")), {
      spaceId: "!space",
      lobbyId: "!lobby",
    });
    assert.deepEqual(log.warnings, [
      "The lobby could not be linked into the Space (403 M_FORBIDDEN).",
    ]);
  });
});

Deno.test("with publish, the Space's creator lists it in the room directory", async (t) => {
  const open = (server: ReturnType<typeof directoryServer>, publish = true) => {
    const fixture = spaceFixture(server, SCRIPTED);
    return {
      ...fixture,
      opened: fixture.clock.run(openDirectory({ ...fixture.env, publish }, "create")),
    };
  };
  await t.step("on creating the Space", async () => {
    const { opened, calls, requests } = open(directoryServer({ missing: true }));
    await opened;
    assert.ok(writes(calls()).includes(LISTING), calls().join("\n"));
    const listing = requests.find((r) => r.url.pathname.includes("/directory/list/room/"))!;
    assert.deepEqual(listing.body, { visibility: "public" });
    assert.ok(!calls().some((c) => c.includes("m.room.create")), "no need to ask who created it");
  });
  await t.step("on a later boot of its creator, not of anyone else", async () => {
    const creator = open(directoryServer({ creator: ME, link: { via: ["hs"] } }));
    await creator.opened;
    assert.deepEqual(writes(creator.calls()), [LISTING]);
    const other = open(directoryServer({ link: { via: ["hs"] } }));
    await other.opened;
    assert.deepEqual(writes(other.calls()), []);
  });
  await t.step("never without publish", async () => {
    const { opened, calls } = open(directoryServer({ missing: true }), false);
    await opened;
    assert.ok(!calls().some((c) => c.includes("/directory/list/")), calls().join("\n"));
  });
  await t.step("a server that refuses says why in a warning", async () => {
    const { opened, log } = open((r) =>
      r.url.pathname.includes("/directory/list/")
        ? err(403, "M_FORBIDDEN")
        : directoryServer({ missing: true })(r)
    );
    await opened;
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0], /^The Space could not be listed in the room directory: .*403/);
  });
});

Deno.test("a Space or lobby made with power levels cchat does not set is not trusted", async (t) => {
  /** Both rooms exist; those in `loose` were made by mallory, open to every member's changes. */
  const server = (loose: string[]) => (r: RecordedRequest) => {
    const p = decodeURIComponent(r.url.pathname);
    if (isJoin(r)) return json({ room_id: p.endsWith("#agents:hs") ? "!space" : "!lobby" });
    const roomId = p.split("/")[5];
    if (r.method === "GET" && loose.includes(roomId)) {
      if (p.endsWith("/m.room.create/")) return json({ sender: "@mallory:hs", content: {} });
      if (p.endsWith("/m.room.power_levels/")) {
        return json({ sender: "@mallory:hs", content: { state_default: 0 } });
      }
    }
    return cchatRoomAnswer(r) ?? json({ event_id: "$e" });
  };
  await t.step("a loose lobby stops the agent with the fix", async () => {
    const { env, clock } = spaceFixture(server(["!lobby"]), SCRIPTED);
    await clock.run(assert.rejects(openDirectory(env, "create"), (failure: unknown) => {
      assert.ok(failure instanceof CchatError);
      assert.equal(
        failure.message,
        'The lobby "#agents-lobby:hs" is not a room cchat made: its members may change "m.room.name".',
      );
      assert.match(failure.hint ?? "", /delete it, or set another "alias_prefix"/);
      return true;
    }));
  });
  await t.step("a loose Space leaves the agent in lobby-only mode, said once", async () => {
    const { env, clock, log, calls } = spaceFixture(server(["!space"]), SCRIPTED);
    assert.deepEqual(await clock.run(openDirectory(env, "create")), {
      spaceId: null,
      lobbyId: "!lobby",
    });
    assert.deepEqual(log.warnings, [
      'The Space "#agents:hs" is not a room cchat made: its members may change "m.room.name"; ' +
      "working in lobby-only mode.",
    ]);
    assert.ok(!calls().some((c) => c.startsWith("PUT")), "nothing is written into it");
  });
});
