import assert from "node:assert/strict";
import { prepareMessage, send } from "../../src/ops/send.ts";
import { UsageError } from "../../src/errors.ts";
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

Deno.test("prepareMessage: mentions named outright", async (t) => {
  await t.step("user ids become m.mentions, each once", () => {
    const message = prepareMessage({ body: "look", mentions: ["@a:hs", "@b:hs", "@a:hs"] });
    assert.deepEqual(message.mentions, { user_ids: ["@a:hs", "@b:hs"] });
    assert.equal(prepareMessage({ body: "look" }).mentions, undefined);
  });

  await t.step("anything else is a usage error, and nothing is sent", () => {
    assert.throws(
      () => prepareMessage({ body: "look", mentions: ["alice"] }),
      (err: Error) =>
        err instanceof UsageError && /"alice" is not a Matrix user id/.test(err.message),
    );
  });
});

Deno.test("send: names that cannot be read mention nobody, and the message still goes", async () => {
  await using h = await commandHarness((r) => {
    const route = call(r);
    if (route === `GET ${V3}/directory/room/#agents-lobby:hs.test`) {
      return json({ room_id: "!lobby:hs.test" });
    }
    if (r.method === "PUT") return json({ event_id: "$sent" });
    return json({ errcode: "M_UNKNOWN", error: "down" }, 400);
  });
  await h.login();
  const result = await h.clock.run(send(opContext(h).ctx, { body: "@ann, **look**" }));
  assert.equal(result.event_id, "$sent");
  const put = h.requests.find((r) => r.method === "PUT")!;
  assert.deepEqual((put.body as Record<string, unknown>)["m.mentions"], {});
  assert.equal(
    (put.body as Record<string, unknown>).formatted_body,
    "<p>@ann, <strong>look</strong></p>",
  );
});
