import assert from "node:assert/strict";
import { PermissionRelay } from "../../src/ops/permission.ts";
import { agentRoomHomeserver, BOB, commandHarness } from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";
import { opContext } from "../support/ops.ts";

const ALICE = "@alice:hs.test";
const REQUEST = {
  request_id: "abcde",
  tool_name: "Bash",
  description: "Run shell command @alice",
  input_preview: '{"command": "rm -rf build ```"}',
};

Deno.test("PermissionRelay", async (t) => {
  await t.step(
    "a request goes to the agent's room as a notice that notifies the approvers",
    async () => {
      await using h = await commandHarness(agentRoomHomeserver({ name: "bob", owner: BOB }));
      await h.login();
      const relay = new PermissionRelay(opContext(h).ctx, "bob", new Set([ALICE]));
      await h.clock.run(relay.ask(REQUEST));
      const put = h.requests.find((r) => r.method === "PUT")!;
      assert.match(decodeURIComponent(put.url.pathname), /\/rooms\/!bob:hs\.test\/send\//);
      const content = put.body as Record<string, unknown>;
      assert.equal(content.msgtype, "m.notice");
      assert.deepEqual(content["m.mentions"], { user_ids: [ALICE] });
      const body = content.body as string;
      assert.match(
        body,
        /^\*\*Approval asked \(abcde\)\*\*: ` Bash `, ` Run shell command @alice `/,
      );
      // The input cannot close its block early, whatever backticks it holds.
      assert.match(body, /\n````\n\{"command": "rm -rf build ```"\}\n````\n/);
      assert.match(body, /Answer "yes abcde" or "no abcde"\.$/);
    },
  );

  await t.step("an approver's answer to an open request is its verdict, until closed", async () => {
    await using h = await commandHarness(agentRoomHomeserver({ name: "bob", owner: BOB }));
    await h.login();
    const relay = new PermissionRelay(opContext(h).ctx, "bob", new Set([ALICE]));
    const answer = (body: string, sender = ALICE) =>
      relay.verdictOf(inboxMessage(1, { body, sender }));
    assert.equal(answer("yes abcde"), undefined, "nothing was asked yet");
    await h.clock.run(relay.ask(REQUEST));
    assert.deepEqual(answer(" Yes ABCDE "), { request_id: "abcde", behavior: "allow" });
    assert.deepEqual(answer("n abcde"), { request_id: "abcde", behavior: "deny" });
    for (const body of ["yes abcdl", "yes abcdef", "sure abcde", "yes abcde please"]) {
      assert.equal(answer(body), undefined, body);
    }
    assert.equal(answer("yes abcde", "@mallory:hs.test"), undefined, "not an approver");
    relay.close("abcde");
    assert.equal(answer("yes abcde"), undefined, "answered already");
  });

  await t.step("a request id that could not be answered is not relayed", async () => {
    await using h = await commandHarness(agentRoomHomeserver({ name: "bob", owner: BOB }));
    await h.login();
    const { ctx, log } = opContext(h);
    const relay = new PermissionRelay(ctx, "bob", new Set([ALICE]));
    await h.clock.run(relay.ask({ ...REQUEST, request_id: "ab cd" }));
    assert.equal(h.requests.length, 0);
    assert.match(log.warnings[0], /"ab cd" was not relayed/);
  });
});
