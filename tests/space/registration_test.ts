import assert from "node:assert/strict";
import { MatrixError } from "../../src/errors.ts";
import { registerAgent } from "../../src/space/registration.ts";
import type { SpaceEnv } from "../../src/space/env.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import {
  cchatRoomState,
  err,
  isCreate,
  isJoin,
  isRoomState,
  ME,
  spaceFixture,
} from "../support/space.ts";

const registerBob = (env: SpaceEnv) =>
  registerAgent(env, "bob", { host: "h", version: "v" }, "!space");

const ALIAS = "#agents-bob:hs";
const SPACE_ENTRY = `/rooms/!space/state/dev.cchat.agent/${ME}`;
const pathOf = (r: RecordedRequest) => decodeURIComponent(r.url.pathname);
const mine = (type: string, state_key: string, content: Record<string, unknown>) => ({
  type,
  state_key,
  sender: ME,
  content,
});

interface World {
  /** The room the alias leads to, if any. */
  aliasRoom?: string;
  /** This account's entry in the Space, if any. */
  entry?: Record<string, unknown>;
  /** Each room's whole state; a room absent here answers as one cchat made for ME. */
  states?: Record<string, unknown[]>;
  /** Rooms that refuse this account's join. */
  closed?: string[];
}

/**
 * A homeserver for one registration: the alias, the entry and the rooms as
 * `world` says; creating a room behind the alias makes "!bob", one without
 * an alias "!mine" (or "!beat" for a beat room); every write is taken.
 */
function homeserver(world: World) {
  return (r: RecordedRequest) => {
    const p = pathOf(r);
    if (p.endsWith(`/directory/room/${ALIAS}`)) {
      return world.aliasRoom ? json({ room_id: world.aliasRoom }) : err(404, "M_NOT_FOUND");
    }
    if (p.endsWith(SPACE_ENTRY) && r.method === "GET") {
      return world.entry ? json(mine("dev.cchat.agent", ME, world.entry)) : err(404, "M_NOT_FOUND");
    }
    if (isJoin(r)) {
      const target = p.slice(p.lastIndexOf("/") + 1);
      const roomId = target === ALIAS ? world.aliasRoom : target;
      if (!roomId) return err(404, "M_NOT_FOUND");
      return world.closed?.includes(roomId) ? err(403, "M_FORBIDDEN") : json({ room_id: roomId });
    }
    if (isCreate(r)) {
      const body = r.body as { room_alias_name?: string; name: string };
      if (body.room_alias_name) return json({ room_id: "!bob" });
      return json({ room_id: body.name.endsWith("heartbeat") ? "!beat" : "!mine" });
    }
    if (isRoomState(r)) {
      const roomId = p.split("/").at(-2)!;
      return json(world.states?.[roomId] ?? cchatRoomState());
    }
    if (r.method === "GET") return err(404, "M_NOT_FOUND");
    return json({ event_id: "$e" });
  };
}

/** A room someone else made, with power levels that hand it to every member. */
const squatted = [
  { type: "m.room.create", state_key: "", sender: "@mallory:hs", content: {} },
  {
    type: "m.room.power_levels",
    state_key: "",
    sender: "@mallory:hs",
    content: { users: { "@mallory:hs": 100 }, users_default: 100, state_default: 0 },
  },
];

const bodyOf = (requests: RecordedRequest[], fragment: string) =>
  requests.find((r) => r.method === "PUT" && pathOf(r).includes(fragment))?.body;

Deno.test("registerAgent", async (t) => {
  await t.step(
    "creates the room restricted to the Space, a beat room, and links both ways",
    async () => {
      const { env, clock, requests, calls } = spaceFixture(homeserver({}));
      assert.deepEqual(await clock.run(registerBob(env)), { roomId: "!bob", beatRoomId: "!beat" });
      const creations = requests.filter(isCreate).map((r) => r.body as Record<string, unknown>);
      assert.equal(creations[0].room_alias_name, "agents-bob");
      const initial = creations[0].initial_state as { type: string; content: unknown }[];
      assert.deepEqual(initial.find((e) => e.type === "m.room.join_rules")!.content, {
        join_rule: "restricted",
        allow: [{ type: "m.room_membership", room_id: "!space" }],
      });
      assert.equal(creations[1].room_alias_name, undefined, "a beat room has no alias to squat");
      assert.deepEqual(calls().filter((call) => call.startsWith("PUT")).sort(), [
        "PUT /_matrix/client/v3/rooms/!bob/state/dev.cchat.agent/",
        "PUT /_matrix/client/v3/rooms/!bob/state/m.room.history_visibility/",
        "PUT /_matrix/client/v3/rooms/!bob/state/m.room.join_rules/",
        "PUT /_matrix/client/v3/rooms/!bob/state/m.space.parent/!space",
        `PUT /_matrix/client/v3/rooms/!space/state/dev.cchat.agent/${ME}`,
        "PUT /_matrix/client/v3/rooms/!space/state/m.space.child/!bob",
      ]);
      assert.deepEqual(bodyOf(requests, "!space/state/dev.cchat.agent"), {
        name: "bob",
        room_id: "!bob",
        beat_room_id: "!beat",
      });
      assert.deepEqual(bodyOf(requests, "history_visibility"), { history_visibility: "shared" });
      assert.deepEqual(bodyOf(requests, "m.space.child"), { via: ["hs"] });
      assert.deepEqual(bodyOf(requests, "!bob/state/dev.cchat.agent"), {
        name: "bob",
        user_id: ME,
        host: "h",
        version: "v",
      });
    },
  );

  await t.step(
    "a room someone else made behind the alias is left, reported, and replaced by one of its own",
    async () => {
      const { env, clock, requests, calls, log } = spaceFixture(
        homeserver({ aliasRoom: "!squat", states: { "!squat": squatted } }),
      );
      const registration = await clock.run(registerBob(env));
      assert.equal(registration.roomId, "!mine");
      assert.match(
        registration.refused ?? "",
        /^The room "!squat" behind "#agents-bob:hs" is not this agent's own: it was made by "@mallory:hs"\.$/,
      );
      assert.equal(log.warnings.length, 1);
      assert.match(log.warnings[0], /uses a room of its own without that alias\.$/);
      assert.ok(calls().includes("POST /_matrix/client/v3/rooms/!squat/leave"));
      assert.ok(!calls().some((c) => c.startsWith("PUT /_matrix/client/v3/rooms/!squat/")));
      const own = requests.filter(isCreate).map((r) => r.body as Record<string, unknown>)
        .find((b) => b.name === "bob")!;
      assert.equal(own.room_alias_name, undefined);
      assert.deepEqual(bodyOf(requests, "!space/state/dev.cchat.agent"), {
        name: "bob",
        room_id: "!mine",
        beat_room_id: "!beat",
      });
    },
  );

  await t.step("a room of its own that gives power away is refused too", async () => {
    const generous = cchatRoomState();
    (generous[1].content as { users: Record<string, number> }).users["@friend:hs"] = 50;
    const { env, clock } = spaceFixture(
      homeserver({ aliasRoom: "!old", states: { "!old": generous } }),
    );
    const registration = await clock.run(registerBob(env));
    assert.equal(registration.roomId, "!mine");
    assert.match(registration.refused ?? "", /it gives power to "@friend:hs"/);
  });

  await t.step("an alias room that does not let the agent in is refused", async () => {
    const { env, clock } = spaceFixture(homeserver({ aliasRoom: "!locked", closed: ["!locked"] }));
    const registration = await clock.run(registerBob(env));
    assert.equal(registration.roomId, "!mine");
    assert.match(registration.refused ?? "", /"!locked" .* it does not let this agent in\.$/);
  });

  await t.step(
    "the room its entry names is used, and an alias leading elsewhere is reported",
    async () => {
      const { env, clock, calls } = spaceFixture(homeserver({
        aliasRoom: "!squat",
        entry: { name: "bob", room_id: "!mine", beat_room_id: "!beat" },
        states: { "!squat": squatted },
      }));
      const registration = await clock.run(registerBob(env));
      assert.deepEqual(registration, {
        roomId: "!mine",
        beatRoomId: "!beat",
        refused: '"#agents-bob:hs" leads to the room "!squat", not to this agent\'s own.',
      });
      assert.ok(!calls().some((c) => c.includes("!squat")), "the squatted room is never touched");
      assert.ok(!calls().some((c) => c.endsWith("/createRoom")));
    },
  );

  await t.step(
    "an agent from before beat rooms gets one, and its room turns members-only",
    async () => {
      const before = [
        ...cchatRoomState(),
        mine("m.room.history_visibility", "", { history_visibility: "world_readable" }),
      ];
      const { env, clock, requests } = spaceFixture(homeserver({
        aliasRoom: "!bob",
        entry: { name: "bob", room_id: "!bob" },
        states: { "!bob": before },
      }));
      assert.deepEqual(await clock.run(registerBob(env)), { roomId: "!bob", beatRoomId: "!beat" });
      assert.deepEqual(bodyOf(requests, "!space/state/dev.cchat.agent"), {
        name: "bob",
        room_id: "!bob",
        beat_room_id: "!beat",
      });
      assert.deepEqual(bodyOf(requests, "!bob/state/m.room.history_visibility"), {
        history_visibility: "shared",
      });
    },
  );

  await t.step("a Space refusing entries costs a warning, not the registration", async () => {
    const server = homeserver({});
    const { env, clock, log } = spaceFixture((r) =>
      r.method === "PUT" && pathOf(r).endsWith(SPACE_ENTRY) ? err(403, "M_FORBIDDEN") : server(r)
    );
    assert.equal((await clock.run(registerBob(env))).roomId, "!bob");
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0], /does not let its members write "dev\.cchat\.agent"/);
  });

  await t.step("other failures propagate unchanged", async () => {
    const server = homeserver({});
    const { env, clock } = spaceFixture((r) =>
      r.method === "PUT" ? err(500, "M_UNKNOWN") : server(r)
    );
    await clock.run(
      assert.rejects(registerBob(env), (failure: Error) => {
        assert.ok(failure instanceof MatrixError);
        assert.equal(failure.status, 500);
        return true;
      }),
    );
  });

  await t.step("registering again writes nothing this account already wrote", async () => {
    const complete = [
      ...cchatRoomState(),
      mine("dev.cchat.agent", "", { name: "bob", user_id: ME, host: "h", version: "v" }),
      mine("m.room.join_rules", "", {
        join_rule: "restricted",
        allow: [{ type: "m.room_membership", room_id: "!space" }],
      }),
      mine("m.room.history_visibility", "", { history_visibility: "shared" }),
      mine("m.space.parent", "!space", { via: ["hs"], canonical: true }),
    ];
    const server = homeserver({
      aliasRoom: "!bob",
      entry: { name: "bob", room_id: "!bob", beat_room_id: "!beat" },
      states: { "!bob": complete },
    });
    const { env, clock, calls } = spaceFixture((r) =>
      pathOf(r).endsWith("/rooms/!space/state/m.space.child/!bob")
        ? json(mine("m.space.child", "!bob", { via: ["hs"] }))
        : server(r)
    );
    const joined = { ...env, joined: new Set(["!bob"]) };
    assert.deepEqual(
      await clock.run(registerAgent(joined, "bob", { host: "h", version: "v" }, "!space")),
      {
        roomId: "!bob",
        beatRoomId: "!beat",
      },
    );
    assert.deepEqual(calls().filter((call) => !call.startsWith("GET")), []);
  });

  await t.step("what another account wrote, or this one differently, is written", async () => {
    const { env, clock, calls } = spaceFixture(homeserver({
      states: {
        "!bob": [
          ...cchatRoomState(),
          // A new version: same account, other content.
          mine("dev.cchat.agent", "", { name: "bob", user_id: ME, host: "h", version: "old" }),
          // The same content, but set by someone else.
          {
            type: "m.room.history_visibility",
            state_key: "",
            sender: "@admin:hs",
            content: { history_visibility: "shared" },
          },
        ],
      },
    }));
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
