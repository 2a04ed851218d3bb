import assert from "node:assert/strict";
import type { CreateRoomRequest } from "../../src/matrix/types.ts";
import {
  agentRoom,
  beatRoom,
  lobbyRoom,
  OPEN_EVENTS,
  roomFlaw,
  spaceRoom,
} from "../../src/space/rooms.ts";

const options = { owner: "@me:hs", federate: false };
const guestAccess = (request: CreateRoomRequest) =>
  request.initial_state?.filter((e) => e.type === "m.room.guest_access").map((e) => [
    e.state_key,
    e.content,
  ]);

Deno.test("every room cchat creates forbids guests in its initial state", () => {
  const rooms = {
    space: spaceRoom(options),
    lobby: lobbyRoom(options),
    agent: agentRoom({ ...options, name: "bob", spaceId: "!space", serverName: "hs" }),
  };
  for (const [kind, request] of Object.entries(rooms)) {
    assert.deepEqual(guestAccess(request), [["", { guest_access: "forbidden" }]], kind);
  }
});

Deno.test("Space members may write their directory entry; only beat rooms are world-readable", () => {
  const events = spaceRoom(options).power_level_content_override!.events!;
  assert.equal(events["dev.cchat.agent"], 0);
  assert.equal(events["m.space.child"], 0);
  const visibility = (request: CreateRoomRequest) =>
    request.initial_state?.find((e) => e.type === "m.room.history_visibility")?.content;
  const agent = agentRoom({ ...options, name: "bob", spaceId: "!space", serverName: "hs" });
  assert.deepEqual(visibility(agent), { history_visibility: "shared" });
  assert.equal(agent.power_level_content_override!.events!["dev.cchat.heartbeat"], 100);
  const beats = beatRoom({ ...options, name: "bob" });
  assert.deepEqual(visibility(beats), { history_visibility: "world_readable" });
  assert.equal(beats.power_level_content_override!.events_default, 100, "nobody posts there");
  assert.equal(beats.room_alias_name, undefined);
});
Deno.test("roomFlaw tells a room cchat made from one made to look like it", async (t) => {
  const made = (request: CreateRoomRequest, creator = "@me:hs", content = {}) => [
    { type: "m.room.create", state_key: "", sender: creator, content, event_id: "$c" },
    {
      type: "m.room.power_levels",
      state_key: "",
      sender: creator,
      content: request.power_level_content_override!,
      event_id: "$p",
    },
  ];
  const agent = agentRoom({ ...options, name: "bob", spaceId: "!space", serverName: "hs" });
  await t.step("every kind of room cchat makes passes for its own kind", () => {
    assert.equal(roomFlaw(made(agent), "@me:hs", OPEN_EVENTS.agent), undefined);
    assert.equal(roomFlaw(made(spaceRoom(options)), undefined, OPEN_EVENTS.space), undefined);
    assert.equal(roomFlaw(made(lobbyRoom(options)), undefined, OPEN_EVENTS.lobby), undefined);
  });
  await t.step("another creator, or a second one, is refused", () => {
    assert.equal(
      roomFlaw(made(agent, "@mallory:hs"), "@me:hs", []),
      'it was made by "@mallory:hs"',
    );
    assert.equal(
      roomFlaw(made(agent, "@me:hs", { additional_creators: ["@mallory:hs"] }), "@me:hs", []),
      "it has more than one creator",
    );
    assert.equal(roomFlaw([], "@me:hs", []), "its creation cannot be read");
    // A shared room without them is refused; the owner's own room, still being made, is not.
    assert.equal(
      roomFlaw(made(agent).slice(0, 1), undefined, []),
      "its power levels cannot be read",
    );
    assert.equal(roomFlaw(made(agent).slice(0, 1), "@me:hs", []), undefined);
  });
  await t.step("power given to others, or state left open, is refused", () => {
    const levels = (change: Record<string, unknown>) => {
      const state = made(agent);
      state[1].content = { ...state[1].content, ...change };
      return roomFlaw(state, "@me:hs", OPEN_EVENTS.agent);
    };
    assert.equal(levels({ users: { "@me:hs": 100, "@x:hs": 50 } }), 'it gives power to "@x:hs"');
    assert.equal(levels({ users_default: 50 }), "it gives power to every member");
    assert.equal(
      levels({ events: { "m.room.join_rules": 0 } }),
      'its members may change "m.room.join_rules"',
    );
    assert.equal(levels({ events: {}, state_default: 0 }), 'its members may change "m.room.name"');
    assert.equal(
      levels({
        events: Object.fromEntries(
          Object.keys(agent.power_level_content_override!.events!).map((type) => [type, 100]),
        ),
        state_default: 0,
      }),
      "its members may change its state",
    );
    assert.equal(levels({ kick: 0 }), "its members may remove each other");
    // What the Space leaves open to its members is a flaw in an agent's room.
    const space = made(spaceRoom(options));
    assert.equal(
      roomFlaw(space, "@me:hs", OPEN_EVENTS.agent),
      'its members may change "m.space.child"',
    );
  });
});
