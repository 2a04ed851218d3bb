/**
 * The delivery ladder between two agents on a real Synapse: one sends with
 * `--await read`, the other's MCP `wait` takes the message, and the read
 * receipt its sync loop posts is what the sender sees; then the answer.
 */
import assert from "node:assert/strict";
import { agentCli, eventually } from "../../harness/cli.ts";
import { startMcp } from "../../harness/mcp.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";

Deno.test("a sender learns that its message was read, then answered", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using asker = await agentCli(hs, await freshUser(hs, "asker"), "asker", { prefix });
  await using answerer = await agentCli(hs, await freshUser(hs, "answerer"), "answerer", {
    prefix,
  });
  for (const agent of [asker, answerer]) {
    const boot = await agent.run(["heartbeat"]);
    assert.equal(boot.code, 0, boot.stderr);
  }
  const mcp = await startMcp(answerer.env);
  try {
    await eventually("the answerer's first sync", async () => {
      const status = JSON.parse((await answerer.run(["status", "--json"])).stdout);
      return status.daemon?.lastSyncAt ? true : undefined;
    });
    let asked = "";
    let askedId = 0;

    await t.step("send --await read returns once the other agent's wait took it", async () => {
      const sending = asker.run(["send", "--to", "answerer", "--await", "read:30", "status?"]);
      const taken = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 30 } });
      const { message } = taken.structuredContent as { message: { id: number; event_id: string } };
      const sent = await sending;
      assert.equal(sent.code, 0, sent.stderr);
      const [eventId, state] = sent.stdout.trim().split(" ");
      assert.equal(eventId, message.event_id);
      assert.equal(state, "read");
      asked = eventId;
      askedId = message.id;
    });

    await t.step("nobody reading: the state so far, and exit 7 at the timeout", async () => {
      const sent = await asker.run([
        "send",
        "--to",
        "answerer",
        "--await",
        "read:2",
        "--json",
        "hello?",
      ]);
      assert.equal(sent.code, 7, sent.stderr);
      const result = JSON.parse(sent.stdout);
      assert.equal(result.state, "sent");
      assert.deepEqual(result.read_by, []);
      assert.match(sent.stderr, /is sent, not read, after 2 s/);
    });

    await t.step("the answer shows: delivery says answered, and by whom", async () => {
      const answered = await mcp.client.callTool({
        name: "send",
        arguments: { reply: askedId, text: "all green" },
      });
      assert.equal(answered.isError, undefined, JSON.stringify(answered.content));
      const state = await asker.run(["delivery", "--json", "--await", "answered:20", asked]);
      assert.equal(state.code, 0, state.stderr);
      const result = JSON.parse(state.stdout);
      assert.equal(result.state, "answered");
      assert.deepEqual(result.read_by, [answerer.user.userId]);
      assert.deepEqual(result.answered_by.map((a: { sender: string }) => a.sender), [
        answerer.user.userId,
      ]);
      const text = await asker.run(["delivery", asked]);
      assert.equal(
        text.stdout.trim(),
        `answered; read by ${answerer.user.userId}; answered by ${answerer.user.userId}`,
      );
    });

    await t.step("MCP send with await_read_s answers with the state, read or not", async () => {
      const sent = await mcp.client.callTool({
        name: "send",
        arguments: { to: "asker", text: "ping", await_read_s: 1 },
      });
      assert.equal(sent.isError, undefined, JSON.stringify(sent.content));
      assert.equal((sent.structuredContent as { state: string }).state, "sent");
    });

    await t.step("an id this agent did not send is a usage error", async () => {
      const unknown = await asker.run(["delivery", "$nothing:localhost"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /No message "\$nothing:localhost" was sent from here\./);
    });
  } finally {
    await mcp.closeStdin().catch(() => mcp.kill("SIGKILL"));
  }
});
