import assert from "node:assert/strict";
import type { CreateRoomRequest } from "../../src/matrix/types.ts";
import { agentRoom, lobbyRoom, spaceRoom } from "../../src/space/rooms.ts";

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

Deno.test("Space members may write their directory entry; agent rooms are world-readable", () => {
  const events = spaceRoom(options).power_level_content_override!.events!;
  assert.equal(events["dev.cchat.agent"], 0);
  assert.equal(events["m.space.child"], 0);
  const agent = agentRoom({ ...options, name: "bob", spaceId: "!space", serverName: "hs" });
  const visibility = agent.initial_state?.find((e) => e.type === "m.room.history_visibility");
  assert.deepEqual(visibility?.content, { history_visibility: "world_readable" });
  assert.equal(agent.power_level_content_override!.events!["dev.cchat.heartbeat"], 100);
});
