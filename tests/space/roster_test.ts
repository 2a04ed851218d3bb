import assert from "node:assert/strict";
import { listAgents } from "../../src/space/roster.ts";
import { json } from "../support/fakes.ts";
import { err, spaceFixture } from "../support/space.ts";

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
    const { env, clock, log, calls } = spaceFixture((r) => {
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
    const agents = await clock.run(listAgents(env, { spaceId: "!space", lobbyId: "!lobby" }));
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

  await t.step("the lobby, a child of the Space too, is not an agent", async () => {
    const { env, clock, calls } = spaceFixture((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (p.endsWith("/hierarchy")) {
        return json({
          rooms: [
            {
              room_id: "!space",
              children_state: [child("!lobby", "@a:hs", ["hs"]), child("!a", "@a:hs", ["hs"])],
            },
            { room_id: "!lobby", canonical_alias: "#agents-lobby:hs", children_state: [] },
            { room_id: "!a", canonical_alias: "#agents-a:hs", children_state: [] },
          ],
        });
      }
      if (p.endsWith("!lobby/state")) return json([beat("@a:hs", "a", 5_000)]);
      return err(500, "M_UNKNOWN");
    });
    clock.time = NOW;
    const agents = await clock.run(listAgents(env, { spaceId: "!space", lobbyId: "!lobby" }));
    assert.deepEqual(agents.map((a) => [a.name, a.roomId]), [["a", "!a"]]);
    assert.ok(!calls().some((c) => c.includes("!lobby/state/")), "no beat is read from the lobby");
  });

  await t.step("a room failing otherwise is an error", async () => {
    const { env, clock } = spaceFixture((r) => {
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
      assert.rejects(listAgents(env, { spaceId: "!space", lobbyId: "!lobby" }), { status: 500 }),
    );
  });

  await t.step("a Space missing from its own hierarchy lists nobody", async () => {
    const { env, clock } = spaceFixture((r) =>
      r.url.pathname.endsWith("/hierarchy") ? json({ rooms: [] }) : json([])
    );
    assert.deepEqual(
      await clock.run(listAgents(env, { spaceId: "!space", lobbyId: "!lobby" })),
      [],
    );
  });

  await t.step("without a Space: the lobby's beats are the directory, same fields", async () => {
    const { env, clock, log } = spaceFixture(() =>
      json([
        beat("@a:hs", "a", 1_000),
        beat("@b:hs", "b", 1_000, "offline"),
        beat("@z:hs", "Bad Name", 1),
      ])
    );
    clock.time = NOW;
    const agents = await clock.run(listAgents(env, { spaceId: null, lobbyId: "!lobby" }));
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
