import assert from "node:assert/strict";
import { send } from "../../src/ops/send.ts";
import { json } from "../support/fakes.ts";
import { call, commandHarness, V3 } from "../support/commands.ts";
import { opContext } from "../support/ops.ts";

Deno.test("send, called directly, posts to the lobby and remembers what it sent", async () => {
  await using h = await commandHarness((r) =>
    call(r) === `GET ${V3}/directory/room/#agents-lobby:hs.test`
      ? json({ room_id: "!lobby:hs.test" })
      : json({ event_id: "$sent" })
  );
  await h.login();
  const { ctx } = opContext(h);
  const result = await h.clock.run(send(ctx, { body: "build 142 is green" }));
  assert.deepEqual(result, { event_id: "$sent", room_id: "!lobby:hs.test", to: "lobby" });
  const put = h.requests.find((r) => r.method === "PUT")!;
  assert.match(call(put), /\/rooms\/!lobby:hs\.test\/send\/m\.room\.message\//);
  // A reply to it, in any room, is this agent's to read.
  assert.deepEqual([...await h.store((s) => s.sentOf(["$sent", "$other"]))], ["$sent"]);
});
