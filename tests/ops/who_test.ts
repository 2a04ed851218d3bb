import assert from "node:assert/strict";
import { who } from "../../src/ops/who.ts";
import { commandHarness, V3 } from "../support/commands.ts";
import { NOW, pathOf, rosterHomeserver } from "../support/roster.ts";
import { opContext } from "../support/ops.ts";

Deno.test("who, called directly", async (t) => {
  await t.step("agents by name; those silent for a day or never seen only with all", async () => {
    await using h = await commandHarness(rosterHomeserver({ member: () => true }));
    await h.login();
    h.clock.time = NOW;
    const { ctx } = opContext(h);
    const recent = await h.clock.run(who(ctx));
    assert.deepEqual(recent, {
      mode: "space",
      agents: [{
        name: "a",
        status: "online",
        last_beat_age_ms: 5_000,
        host: "h",
        version: "v",
        user_id: "@a:hs.test",
        room_id: "!a:hs.test",
        room_alias: "#agents-a:hs.test",
      }],
    });
    const all = await h.clock.run(who(ctx, { all: true }));
    assert.deepEqual(all.agents.map((a) => [a.name, a.status, a.last_beat_age_ms]), [
      ["a", "online", 5_000],
      ["b", "offline", 2 * 86_400_000],
      ["c", "offline", null],
    ]);
    assert.ok(!h.requests.some((r) => r.method !== "GET"), "a member reads and writes nothing");
  });

  await t.step("a reader not yet in the Space joins it once, and then reads", async () => {
    let joined = false;
    const server = rosterHomeserver({ member: () => joined });
    await using h = await commandHarness((r) => {
      if (pathOf(r).startsWith(`${V3}/join/`)) joined = true;
      return server(r);
    });
    await h.login();
    h.clock.time = NOW;
    const { ctx } = opContext(h);
    const result = await h.clock.run(who(ctx));
    assert.deepEqual(result.agents.map((a) => a.name), ["a"]);
    assert.ok(h.requests.some((r) => pathOf(r) === `${V3}/join/#agents:hs.test`));
  });
});
