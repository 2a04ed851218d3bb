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
  const entry = (user: string, name: unknown, room: unknown, sender = user) => ({
    type: "dev.cchat.agent",
    state_key: user,
    sender,
    event_id: `$entry-${user}`,
    origin_server_ts: 0,
    content: { name, room_id: room },
  });
  const list = (env: Parameters<typeof listAgents>[0]) =>
    listAgents(env, { spaceId: "!space", lobbyId: "!lobby" });

  await t.step(
    "with a Space: its entries and each agent's own beat, skipping the broken",
    async () => {
      const { env, clock, log, calls } = spaceFixture((r) => {
        const p = decodeURIComponent(r.url.pathname);
        if (p.endsWith("!space/state")) {
          return json([
            entry("@a:hs", "a", "!a"),
            entry("@b:hs", "b", "!b"),
            entry("@c:hs", "c", "!c"),
            entry("@d:hs", "d", "!d"),
            entry("@e:hs", "e", "!e"),
            entry("@f:hs", "f", "!f"),
            // Keyed by another user's id: the server would never have let @x set it.
            entry("@g:hs", "g", "!g", "@x:hs"),
            entry("@h:hs", 7, "!h"),
            entry("@i:hs", "i", undefined),
            entry("@j:hs", "Bad Name", "!j"),
            // A child with no entry is no agent.
            { type: "m.space.child", state_key: "!k", sender: "@k:hs", content: { via: ["hs"] } },
          ]);
        }
        if (p.endsWith("!a/state/dev.cchat.heartbeat/@a:hs")) {
          return json(beat("@a:hs", "a", 5_000));
        }
        if (p.endsWith("!b/state/dev.cchat.heartbeat/@b:hs")) {
          return json(beat("@b:hs", "b", 60_000));
        }
        if (p.includes("!c/state/")) return err(403, "M_FORBIDDEN");
        if (p.includes("!d/state/")) return err(404, "M_NOT_FOUND");
        // Beats that are not the agent's own, however the server came to answer them.
        if (p.includes("!e/state/")) return json({ ...beat("@e:hs", "e", 1), sender: "@x:hs" });
        if (p.includes("!f/state/")) {
          return json({ ...beat("@x:hs", "f", 1), state_key: "@x:hs", sender: "@x:hs" });
        }
        return err(500, "M_UNKNOWN");
      });
      clock.time = NOW;
      const agents = await clock.run(list(env));
      assert.deepEqual(
        agents.map((a) => [a.name, a.userId, a.status, a.lastBeatAgeMs, a.roomId, a.alias, a.host]),
        [
          ["a", "@a:hs", "online", 5_000, "!a", "#agents-a:hs", "a-host"],
          ["b", "@b:hs", "offline", 60_000, "!b", "#agents-b:hs", "b-host"],
          ["c", "@c:hs", "offline", null, "!c", "#agents-c:hs", ""],
          ["d", "@d:hs", "offline", null, "!d", "#agents-d:hs", ""],
          ["e", "@e:hs", "offline", null, "!e", "#agents-e:hs", ""],
          ["f", "@f:hs", "offline", null, "!f", "#agents-f:hs", ""],
        ],
      );
      assert.ok(!calls().some((c) => c.includes("!lobby")), "the lobby is not read");
      assert.ok(!calls().some((c) => c.includes("/directory/")), "no name is contested");
      for (
        const expected of [
          /entry keyed "@g:hs" from "@x:hs"/,
          /malformed entry of "@h:hs"/,
          /malformed entry of "@i:hs"/,
          /unusable agent name "Bad Name"/,
          /"!c" \(403/,
          /"!d" \(404/,
          /state key "@e:hs" is not its sender "@x:hs"/,
          /beat in "!f" from "@x:hs", not its agent/,
        ]
      ) {
        assert.ok(
          log.debug.some((line) => expected.test(line)),
          `no debug note matching ${expected}`,
        );
      }
    },
  );

  /** A Space whose entries are `entries`, whose alias for "bob" leads to `aliasRoom`, and where everyone beats. */
  const contested = (entries: unknown[], aliasRoom: string) =>
    spaceFixture((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (p.endsWith("!space/state")) return json(entries);
      if (p.endsWith("/directory/room/#agents-bob:hs")) return json({ room_id: aliasRoom });
      const beating = /\/state\/dev\.cchat\.heartbeat\/(@[^:]+:hs)$/.exec(p)?.[1];
      if (beating) return json(beat(beating, "bob", 1_000));
      return err(500, "M_UNKNOWN");
    });

  await t.step(
    "the account named after the agent holds its name outright, wherever the alias leads",
    async () => {
      const { env, clock, calls } = contested([
        entry("@mallory:hs", "bob", "!squat"),
        entry("@bob:hs", "bob", "!bob"),
        entry("@a:hs", "a", "!a"),
      ], "!squat");
      clock.time = NOW;
      const agents = await clock.run(list(env));
      assert.deepEqual(agents.map((a) => [a.name, a.userId, a.roomId]), [
        ["bob", "@bob:hs", "!bob"],
        ["a", "@a:hs", "!a"],
      ]);
      assert.ok(!calls().some((c) => c.includes("/directory/")), "the alias is not asked");
    },
  );

  await t.step("otherwise the alias settles a contested name", async () => {
    const { env, clock } = contested([
      entry("@mallory:hs", "bob", "!mallory"),
      entry("@builder:hs", "bob", "!bob"),
    ], "!bob");
    clock.time = NOW;
    const agents = await clock.run(list(env));
    assert.deepEqual(agents.map((a) => [a.name, a.userId, a.roomId]), [[
      "bob",
      "@builder:hs",
      "!bob",
    ]]);
  });

  await t.step(
    "entries that name the same room stay listed side by side, their accounts shown",
    async () => {
      const { env, clock } = contested([
        entry("@builder:hs", "bob", "!bob"),
        entry("@eve:hs", "bob", "!bob"),
      ], "!bob");
      clock.time = NOW;
      const agents = await clock.run(list(env));
      assert.deepEqual(agents.map((a) => a.userId), ["@builder:hs", "@eve:hs"]);
    },
  );

  await t.step("an entry with a beat room is read there, not in its agent's room", async () => {
    const { env, clock, calls } = spaceFixture((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (p.endsWith("!space/state")) {
        return json([{
          ...entry("@a:hs", "a", "!a"),
          content: { name: "a", room_id: "!a", beat_room_id: "!a-beat" },
        }]);
      }
      if (p.endsWith("!a-beat/state/dev.cchat.heartbeat/@a:hs")) return json(beat("@a:hs", "a", 1));
      return err(403, "M_FORBIDDEN");
    });
    clock.time = NOW;
    const [agent] = await clock.run(list(env));
    assert.deepEqual([agent.roomId, agent.status], ["!a", "online"]);
    assert.ok(!calls().some((c) => c.includes("/rooms/!a/")), "the agent's room is not read");
  });

  await t.step(
    "two round trips whatever the number of agents: every beat asked at once",
    async () => {
      const N = 25;
      const { env, clock, requests } = spaceFixture(async (r) => {
        const p = decodeURIComponent(r.url.pathname);
        // Every answer takes one second of virtual time: a round trip.
        await clock.sleep(1_000);
        if (p.endsWith("!space/state")) {
          return json(Array.from({ length: N }, (_, i) => entry(`@a${i}:hs`, `a${i}`, `!a${i}`)));
        }
        const user = p.slice(p.lastIndexOf("/") + 1);
        return json(beat(user, user.slice(1, user.indexOf(":")), 0));
      });
      clock.time = NOW;
      const agents = await clock.run(list(env));
      assert.equal(agents.length, N);
      assert.ok(agents.every((a) => a.status === "online"));
      assert.equal(requests.length, 1 + N);
      // All the beats were asked for before the first one was answered, and it all took two trips.
      assert.deepEqual(requests.slice(1).map((r) => r.at - NOW), Array(N).fill(1_000));
      assert.equal(clock.now() - NOW, 2_000);
    },
  );

  await t.step("a room failing otherwise is an error", async () => {
    const { env, clock } = spaceFixture((r) =>
      decodeURIComponent(r.url.pathname).endsWith("!space/state")
        ? json([entry("@a:hs", "a", "!a")])
        : err(500, "M_UNKNOWN")
    );
    await clock.run(assert.rejects(list(env), { status: 500 }));
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
    assert.ok(log.debug.some((line) => /unusable agent name "Bad Name"/.test(line)));
  });
});
