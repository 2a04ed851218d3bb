import assert from "node:assert/strict";
import { CchatError, MatrixError } from "../../src/errors.ts";
import { registerAgent } from "../../src/space/registration.ts";
import type { SpaceEnv } from "../../src/space/env.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { err, isCreate, isJoin, isRoomState, ME, spaceFixture } from "../support/space.ts";

const registerBob = (env: SpaceEnv) =>
  registerAgent(env, "bob", { host: "h", version: "v" }, "!space");

/** Bob's room as it is just after creation: no state of cchat's yet, and every write taken. */
const newRoom = (r: RecordedRequest) =>
  isRoomState(r) ? json([]) : json({ room_id: "!bob", event_id: "$e" });

Deno.test("registerAgent", async (t) => {
  await t.step("creates the room restricted to the Space and links both ways", async () => {
    const { env, clock, requests, calls } = spaceFixture((r) =>
      isJoin(r) || r.method === "GET" && !isRoomState(r) ? err(404, "M_NOT_FOUND") : newRoom(r)
    );
    assert.equal(await clock.run(registerBob(env)), "!bob");
    const create = requests.find(isCreate)!.body as Record<string, unknown>;
    assert.equal(create.room_alias_name, "agents-bob");
    const initial = create.initial_state as { type: string; content: Record<string, unknown> }[];
    assert.deepEqual(initial.find((e) => e.type === "m.room.join_rules")!.content, {
      join_rule: "restricted",
      allow: [{ type: "m.room_membership", room_id: "!space" }],
    });
    assert.deepEqual(calls().filter((call) => call.startsWith("PUT")).sort(), [
      "PUT /_matrix/client/v3/rooms/!bob/state/dev.cchat.agent/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.room.history_visibility/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.room.join_rules/",
      "PUT /_matrix/client/v3/rooms/!bob/state/m.space.parent/!space",
      `PUT /_matrix/client/v3/rooms/!space/state/dev.cchat.agent/${ME}`,
      "PUT /_matrix/client/v3/rooms/!space/state/m.space.child/!bob",
    ]);
    const put = (fragment: string) =>
      requests.find((r) =>
        r.method === "PUT" && decodeURIComponent(r.url.pathname).includes(fragment)
      )!
        .body;
    assert.deepEqual(put("!space/state/dev.cchat.agent"), { name: "bob", room_id: "!bob" });
    assert.deepEqual(put("history_visibility"), { history_visibility: "world_readable" });
    assert.deepEqual(put("m.space.child"), { via: ["hs"] });
    assert.deepEqual(put("!bob/state/dev.cchat.agent"), {
      name: "bob",
      user_id: ME,
      host: "h",
      version: "v",
    });
  });

  await t.step("a name owned by another account says so", async () => {
    const { env, clock } = spaceFixture((r) =>
      r.method === "PUT"
        ? err(403, "M_FORBIDDEN")
        : isRoomState(r)
        ? json([])
        : json({ room_id: "!bob" })
    );
    await clock.run(
      assert.rejects(
        registerBob(env),
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
        ? r.method === "PUT" ? err(403, "M_FORBIDDEN") : err(404, "M_NOT_FOUND")
        : newRoom(r)
    );
    assert.equal(await clock.run(registerBob(env)), "!bob");
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0], /does not let its members write "dev\.cchat\.agent"/);
  });

  await t.step("other failures propagate unchanged", async () => {
    const { env, clock } = spaceFixture((r) =>
      r.method === "PUT"
        ? err(500, "M_UNKNOWN")
        : isRoomState(r)
        ? json([])
        : json({ room_id: "!bob" })
    );
    await clock.run(
      assert.rejects(
        registerBob(env),
        (failure: Error) => {
          assert.ok(failure instanceof MatrixError);
          assert.equal(failure.status, 500);
          return true;
        },
      ),
    );
  });

  await t.step("registering again writes nothing this account already wrote", async () => {
    const SPACE_CHILD = "/rooms/!space/state/m.space.child/!bob";
    const SPACE_ENTRY = `/rooms/!space/state/dev.cchat.agent/${ME}`;
    const mine = (type: string, state_key: string, content: Record<string, unknown>) => ({
      type,
      state_key,
      sender: ME,
      content,
    });
    const { env, clock, calls } = spaceFixture((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (isJoin(r)) return json({ room_id: "!bob" });
      if (isRoomState(r)) {
        return json([
          mine("dev.cchat.agent", "", { name: "bob", user_id: ME, host: "h", version: "v" }),
          mine("m.room.join_rules", "", {
            join_rule: "restricted",
            allow: [{ type: "m.room_membership", room_id: "!space" }],
          }),
          mine("m.room.history_visibility", "", { history_visibility: "world_readable" }),
          mine("m.space.parent", "!space", { via: ["hs"], canonical: true }),
        ]);
      }
      if (p.endsWith(SPACE_CHILD)) return json(mine("m.space.child", "!bob", { via: ["hs"] }));
      if (p.endsWith(SPACE_ENTRY)) {
        return json(mine("dev.cchat.agent", ME, { name: "bob", room_id: "!bob" }));
      }
      return err(500, "M_UNKNOWN");
    });
    assert.equal(await clock.run(registerBob(env)), "!bob");
    assert.deepEqual(calls().filter((call) => !call.startsWith("GET")), [
      "POST /_matrix/client/v3/join/#agents-bob:hs",
    ]);
  });

  await t.step("what another account wrote, or this one differently, is written", async () => {
    const { env, clock, calls } = spaceFixture((r) => {
      if (isJoin(r)) return json({ room_id: "!bob" });
      if (isRoomState(r)) {
        return json([
          // A new version: same account, other content.
          {
            type: "dev.cchat.agent",
            state_key: "",
            sender: ME,
            content: { name: "bob", user_id: ME, host: "h", version: "old" },
          },
          // The same content, but set by someone else.
          {
            type: "m.room.history_visibility",
            state_key: "",
            sender: "@admin:hs",
            content: { history_visibility: "world_readable" },
          },
        ]);
      }
      return r.method === "GET" ? err(404, "M_NOT_FOUND") : json({ event_id: "$e" });
    });
    await clock.run(registerBob(env));
    const puts = calls().filter((call) => call.startsWith("PUT"));
    assert.ok(puts.includes("PUT /_matrix/client/v3/rooms/!bob/state/dev.cchat.agent/"));
    assert.ok(puts.includes("PUT /_matrix/client/v3/rooms/!bob/state/m.room.history_visibility/"));
  });

  await t.step("rejects a bad name before any request", async () => {
    const { env, clock, requests } = spaceFixture(() => json({}));
    await clock.run(
      assert.rejects(registerAgent(env, "a:b", { host: "h", version: "v" }, "!space")),
    );
    assert.equal(requests.length, 0);
  });
});
