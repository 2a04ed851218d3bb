import assert from "node:assert/strict";
import { CchatError, MatrixError } from "../../src/errors.ts";
import { registerAgent } from "../../src/space/registration.ts";
import { json } from "../support/fakes.ts";
import { err, isCreate, isJoin, ME, spaceFixture } from "../support/space.ts";

Deno.test("registerAgent", async (t) => {
  await t.step("creates the room restricted to the Space and links both ways", async () => {
    const { env, clock, requests, calls } = spaceFixture((r) =>
      isJoin(r) ? err(404, "M_NOT_FOUND") : json({ room_id: "!bob", event_id: "$e" })
    );
    assert.equal(
      await clock.run(registerAgent(env, "bob", { host: "h", version: "v" }, "!space")),
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
      "PUT /_matrix/client/v3/rooms/!bob/state/m.room.history_visibility/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.room.join_rules/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.space.parent/!space",
      `PUT /_matrix/client/v3/rooms/!space/state/dev.cchat.agent/${ME}`,
      "PUT /_matrix/client/v3/rooms/!space/state/m.space.child/!bob",
    ]);
    const entry = requests.find((r) =>
      decodeURIComponent(r.url.pathname).includes("!space/state/dev.cchat.agent")
    )!;
    assert.deepEqual(entry.body, { name: "bob", room_id: "!bob" });
    const visibility = requests.find((r) => r.url.pathname.includes("history_visibility"))!;
    assert.deepEqual(visibility.body, { history_visibility: "world_readable" });
    const child = requests.find((r) => r.url.pathname.includes("m.space.child"))!;
    assert.deepEqual(child.body, { via: ["hs"] });
    const profile = requests.find((r) =>
      decodeURIComponent(r.url.pathname).includes("!bob/state/dev.cchat.agent")
    )!;
    assert.deepEqual(profile.body, { name: "bob", user_id: ME, host: "h", version: "v" });
  });

  await t.step("a name owned by another account says so", async () => {
    const { env, clock } = spaceFixture((r) =>
      r.method === "PUT" ? err(403, "M_FORBIDDEN") : json({ room_id: "!bob" })
    );
    await clock.run(
      assert.rejects(
        registerAgent(env, "bob", { host: "h", version: "v" }, "!space"),
        (failure: Error) => {
          assert.ok(failure instanceof CchatError);
          assert.match(failure.message, /The agent name "bob" belongs to another account\./);
          return true;
        },
      ),
    );
  });

  await t.step("a Space refusing entries costs a warning, not the registration", async () => {
    const { env, clock, log } = spaceFixture((r) =>
      decodeURIComponent(r.url.pathname).includes("!space/state/dev.cchat.agent")
        ? err(403, "M_FORBIDDEN")
        : json({ room_id: "!bob", event_id: "$e" })
    );
    assert.equal(
      await clock.run(registerAgent(env, "bob", { host: "h", version: "v" }, "!space")),
      "!bob",
    );
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0], /does not let its members write "dev\.cchat\.agent"/);
  });

  await t.step("other failures propagate unchanged", async () => {
    const { env, clock } = spaceFixture((r) =>
      r.method === "PUT" ? err(500, "M_UNKNOWN") : json({ room_id: "!bob" })
    );
    await clock.run(
      assert.rejects(
        registerAgent(env, "bob", { host: "h", version: "v" }, "!space"),
        (failure: Error) => {
          assert.ok(failure instanceof MatrixError);
          assert.equal(failure.status, 500);
          return true;
        },
      ),
    );
  });

  await t.step("rejects a bad name before any request", async () => {
    const { env, clock, requests } = spaceFixture(() => json({}));
    await clock.run(
      assert.rejects(registerAgent(env, "a:b", { host: "h", version: "v" }, "!space")),
    );
    assert.equal(requests.length, 0);
  });
});
