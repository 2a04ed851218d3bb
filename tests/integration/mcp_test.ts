/**
 * `cchat mcp` as an agent's MCP client sees it: the SDK's own Client drives
 * the real CLI over stdio, against a real Synapse, with a human on
 * matrix-js-sdk on the other side.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { realSleep } from "../../src/deps.ts";
import { agentCli, CCHAT, eventually } from "../../harness/cli.ts";
import { clientFor } from "../../harness/matrix.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

const CLIENT_CLOSE_FALLBACK_MS = 2_100;

/** An MCP client for `cchat mcp`, to connect, as an agent with `env` starts it. */
function mcpClient(env: Record<string, string>) {
  return {
    client: new Client({ name: "cchat-test", version: "1" }),
    transport: new StdioClientTransport({
      command: Deno.execPath(),
      args: [...CCHAT, "mcp"],
      // The SDK passes a bare environment by default; the agent's own is what matters here.
      env: { ...Deno.env.toObject(), NO_COLOR: "1", ...env },
      stderr: "pipe",
    }),
  };
}

/** What every tool description costs an agent in every turn. */
const MAX_TOOLS_LIST_BYTES = 3_000;

Deno.test("an MCP client sends, lists, waits and gets tool errors through cchat mcp", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcp"), "mcp-agent", { prefix });
  const human = await Human.register(hs);
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const daemon = agent.daemon();
  const { client, transport } = mcpClient(agent.env);
  let asked: { id: number; eventId: string; roomId: string } | undefined;
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    await client.callTool({ name, arguments: args }) as CallToolResult;
  try {
    await client.connect(transport);

    await t.step("lists five small tools", async () => {
      const listing = await client.listTools();
      assert.deepEqual(listing.tools.map((tool: { name: string }) => tool.name).sort(), [
        "inbox",
        "reply",
        "send",
        "wait",
        "who",
      ]);
      const bytes = new TextEncoder().encode(JSON.stringify(listing)).length;
      console.log(`tools/list: ${bytes} bytes`);
      assert.ok(bytes <= MAX_TOOLS_LIST_BYTES, `${bytes} bytes`);
    });

    await t.step("send posts to the lobby and answers with the event id", async () => {
      const result = await call("send", { text: "hello over MCP" });
      assert.equal(result.isError, undefined);
      const sent = result.structuredContent as { event_id: string; to: string };
      assert.match(sent.event_id, /^\$/);
      assert.equal(sent.to, "lobby");
    });

    await t.step("the daemon keeps the sync loop: the server does not start a second", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      assert.equal(status.lease?.pid, daemon.pid);
    });

    await t.step("who lists the agent", async () => {
      const result = await call("who", { all: true });
      const { agents } = result.structuredContent as { agents: { name: string }[] };
      assert.ok(agents.some((a) => a.name === "mcp-agent"));
    });

    await t.step("wait returns what a human wrote to the agent", async () => {
      // Agent rooms admit members of the Space.
      await human.joinRoom(`#${prefix}:${hs.serverName}`);
      const roomId = await human.joinRoom(`#${prefix}-mcp-agent:${hs.serverName}`);
      // The daemon must be syncing before the message, or it is history, not news.
      await eventually("the daemon's first sync", async () => {
        const status = await agent.run(["status", "--json"]);
        return JSON.parse(status.stdout).daemon?.lastSyncAt ? true : undefined;
      });
      const eventId = await human.send(roomId, "hello from Element");
      const result = await call("wait", { timeout_s: 20 });
      const { message } = result.structuredContent as {
        message: { id: number; event_id: string; body: string; sender: string };
      };
      assert.equal(message.event_id, eventId);
      assert.equal(message.body, "hello from Element");
      assert.equal(message.sender, human.userId);
      asked = { id: message.id, eventId, roomId };
    });

    await t.step("reply answers that message in its room, by its short id", async () => {
      const result = await call("reply", { id: asked!.id, text: "hello from MCP" });
      assert.equal(result.isError, undefined);
      const sent = result.structuredContent as { event_id: string; room_id: string; to: string };
      assert.equal(sent.room_id, asked!.roomId);
      assert.equal(sent.to, human.userId);
      const unknown = await call("reply", { id: 999_999, text: "never sent" });
      assert.equal(unknown.isError, true);
      const [text] = unknown.content as { type: string; text: string }[];
      assert.match(text.text, /No message "999999" is in the inbox\.\nhint: .*cchat inbox --peek/);
    });

    await t.step("wait at the timeout is an empty result, not an error", async () => {
      const result = await call("wait", { timeout_s: 0 });
      assert.equal(result.isError, undefined);
      assert.deepEqual(result.structuredContent, { message: null });
    });

    await t.step(
      "bad arguments and failed operations are tool errors; it keeps answering",
      async () => {
        const tooLong = await call("wait", { timeout_s: 100_000 });
        assert.equal(tooLong.isError, true);
        const unknown = await call("send", { text: "hi", to: "nobody-here" });
        assert.equal(unknown.isError, true);
        const [text] = unknown.content as { type: string; text: string }[];
        assert.match(text.text, /No agent is called "nobody-here"\.\nhint: /);
        const still = await call("who", {});
        assert.equal(still.isError, undefined);
      },
    );
    await t.step("closing stdin ends the server", async () => {
      const pid = transport.pid!;
      await client.close();
      await eventually("the server's exit", async () => {
        const alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
        return alive ? undefined : true;
      }, 5_000);
      // The SDK's close races the exit against a 2 s fallback timer it never clears: let it run out.
      await realSleep(CLIENT_CLOSE_FALLBACK_MS);
    });
  } finally {
    await client.close();
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});

Deno.test("cchat mcp alone runs the agent's sync loop and says goodbye when closed", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcpsolo"), "solo", { prefix });
  const human = await Human.register(hs);
  const { client, transport } = mcpClient(agent.env);
  const reader = clientFor(hs, agent.user);
  const topic = async () => {
    const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
    const event = await reader.getStateEvent(status.daemon.roomId, "m.room.topic");
    return (event.content as { topic: string }).topic;
  };
  const statuses = async () =>
    Object.fromEntries(
      (JSON.parse((await agent.run(["who", "--json", "--all"])).stdout).agents as {
        name: string;
        status: string;
      }[]).map((a) => [a.name, a.status]),
    );
  try {
    await client.connect(transport);

    await t.step("it boots the agent and holds its lease", async () => {
      await eventually("the server's first sync", async () => {
        const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
        return status.daemon?.lastSyncAt && status.lease?.pid === transport.pid ? true : undefined;
      });
      assert.equal((await statuses()).solo, "online");
      assert.match(await topic(), /^online on \S+ since \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    });

    await t.step("a human's message reaches its wait tool", async () => {
      await human.joinRoom(`#${prefix}:${hs.serverName}`);
      const roomId = await human.joinRoom(`#${prefix}-solo:${hs.serverName}`);
      const eventId = await human.send(roomId, "are you there?");
      const result = await client.callTool({ name: "wait", arguments: { timeout_s: 20 } });
      const { message } = result.structuredContent as { message: { event_id: string } };
      assert.equal(message.event_id, eventId);
    });

    await t.step("closing stdin ends it with an offline beat", async () => {
      await client.close();
      await eventually(
        "the offline beat",
        async () => (await statuses()).solo === "offline" ? true : undefined,
      );
      await eventually(
        "the offline topic",
        async () => (await topic()).startsWith("offline since ") || undefined,
      );
      // The SDK's close races the exit against a 2 s fallback timer it never clears: let it run out.
      await realSleep(CLIENT_CLOSE_FALLBACK_MS);
    });
  } finally {
    await client.close();
  }
});
