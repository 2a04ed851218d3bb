/**
 * Permission relay through `cchat mcp --channel` on a real Synapse: the
 * session's approval request appears in the agent's room, an approver's
 * "no ID" goes back as the verdict, and a stranger's "yes ID" changes nothing.
 */
import assert from "node:assert/strict";
import { agentCli, eventually } from "../../harness/cli.ts";
import { startMcp } from "../../harness/mcp.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { PERMISSION_EVENT } from "../../src/mcp/server.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

Deno.test("an approval is answered from the room by an approver, and by nobody else", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcpperm"), "guarded", { prefix });
  const approver = await Human.register(hs);
  const stranger = await Human.register(hs);
  const mcp = await startMcp(
    {
      ...agent.env,
      CCHAT_CHANNEL_SENDERS: approver.userId,
      CCHAT_APPROVERS: approver.userId,
    },
    ["--channel"],
  );
  const verdicts = () => mcp.notified(PERMISSION_EVENT);
  try {
    await eventually("the server's first sync", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      return status.daemon?.lastSyncAt ? true : undefined;
    });
    await approver.start();
    let roomId = "";
    for (const person of [approver, stranger]) {
      await person.joinRoom(`#${prefix}:${hs.serverName}`);
      roomId = await person.joinRoom(`#${prefix}-guarded:${hs.serverName}`);
    }

    await t.step("the server offers the relay", () => {
      assert.deepEqual(mcp.client.getServerCapabilities()?.experimental, {
        "claude/channel": {},
        "claude/channel/permission": {},
      });
    });

    await t.step("the request appears in the room and notifies the approver", async () => {
      await mcp.client.notification({
        method: "notifications/claude/channel/permission_request",
        params: {
          request_id: "hqwzx",
          tool_name: "Bash",
          description: "Run shell command",
          input_preview: '{"command":"git push --force"}',
        },
      });
      const asked = await approver.waitForMessage(
        roomId,
        (e) => e.getContent().body?.includes('"yes hqwzx"'),
        20_000,
      );
      assert.equal(asked.getSender(), agent.user.userId);
      assert.equal(asked.getContent().msgtype, "m.notice");
      assert.deepEqual(asked.getContent()["m.mentions"], { user_ids: [approver.userId] });
      assert.match(asked.getContent().body, /git push --force/);
    });

    await t.step("a stranger's yes is no verdict; the approver's no is", async () => {
      const strangers = await stranger.send(roomId, "yes hqwzx");
      await approver.send(roomId, "no hqwzx");
      await eventually("the verdict", () => Promise.resolve(verdicts().length ? true : undefined));
      assert.deepEqual(verdicts(), [{ request_id: "hqwzx", behavior: "deny" }]);
      // The stranger's answer is an ordinary message, for the tools to read.
      const result = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 20 } });
      const { message } = result.structuredContent as { message: { event_id: string } };
      assert.equal(message.event_id, strangers);
      assert.equal(verdicts().length, 1);
    });
  } finally {
    approver.stop();
    stranger.stop();
    await mcp.closeStdin().catch(() => mcp.kill("SIGKILL"));
  }
});
