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
