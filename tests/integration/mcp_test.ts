/**
 * `cchat mcp` as an agent's MCP client sees it: the SDK's own Client drives
 * the real CLI over stdio, against a real Synapse, with a human on
 * matrix-js-sdk on the other side.
 */
import assert from "node:assert/strict";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { LEASE_TTL_MS } from "../../src/store/lease.ts";
import { TOOLS_LIST_BUDGET_BYTES } from "../../src/mcp/server.ts";
import { agentCli, cchat, eventually } from "../../harness/cli.ts";
import { clientFor } from "../../harness/matrix.ts";
import { startMcp } from "../../harness/mcp.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";
import { MCP_TOOLS } from "../support/fixtures.ts";

/** How soon a server must be gone once its client closed stdin or died. */
const EXIT_AFTER_EOF_MS = 2_000;

Deno.test("an MCP client sends, lists, waits and gets tool errors through cchat mcp", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcp"), "mcp-agent", { prefix });
  const human = await Human.register(hs);
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const daemon = agent.daemon();
  const mcp = await startMcp(agent.env);
  const { client } = mcp;
  let asked: { id: number; eventId: string; roomId: string } | undefined;
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    await client.callTool({ name, arguments: args }) as CallToolResult;
  try {
    await t.step("lists six small tools", async () => {
      const listing = await client.listTools();
      assert.deepEqual(
        listing.tools.map((tool: { name: string }) => tool.name).sort(),
        MCP_TOOLS,
      );
      const bytes = new TextEncoder().encode(JSON.stringify(listing)).length;
      console.log(`tools/list: ${bytes} bytes`);
      assert.ok(bytes <= TOOLS_LIST_BUDGET_BYTES, `${bytes} bytes`);
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

    await t.step("send with reply answers that message in its room, by its short id", async () => {
      const result = await call("send", { reply: asked!.id, text: "hello from MCP" });
      assert.equal(result.isError, undefined);
      const sent = result.structuredContent as { event_id: string; room_id: string; to: string };
      assert.equal(sent.room_id, asked!.roomId);
      assert.equal(sent.to, human.userId);
      const unknown = await call("send", { reply: 999_999, text: "never sent" });
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
    await t.step("closing stdin, and nothing else, ends the server within 2 s", async () => {
      const { code, ms } = await mcp.closeStdin();
      assert.equal(code, 0, await mcp.stderr);
      assert.ok(ms < EXIT_AFTER_EOF_MS, `${Math.round(ms)} ms`);
    });
  } finally {
    await mcp.kill("SIGKILL");
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});

Deno.test("cchat mcp alone runs the agent's sync loop and says goodbye when closed", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcpsolo"), "solo", { prefix });
  const human = await Human.register(hs);
  const mcp = await startMcp(agent.env);
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
    await t.step("it boots the agent and holds its lease", async () => {
      await eventually("the server's first sync", async () => {
        const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
        return status.daemon?.lastSyncAt && status.lease?.pid === mcp.pid ? true : undefined;
      });
      assert.equal((await statuses()).solo, "online");
      assert.match(await topic(), /^started on \S+ at \d{4}-\d\d-\d\d \d\d:\d\d UTC; /);
    });

    await t.step("a human's message reaches its wait tool", async () => {
      await human.joinRoom(`#${prefix}:${hs.serverName}`);
      const roomId = await human.joinRoom(`#${prefix}-solo:${hs.serverName}`);
      const eventId = await human.send(roomId, "are you there?");
      const result = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 20 } });
      const { message } = result.structuredContent as { message: { event_id: string } };
      assert.equal(message.event_id, eventId);
    });

    await t.step("closing stdin ends it within 2 s, having said goodbye", async () => {
      const { code, ms } = await mcp.closeStdin();
      assert.equal(code, 0, await mcp.stderr);
      assert.ok(ms < EXIT_AFTER_EOF_MS, `${Math.round(ms)} ms`);
      // All of it was done before the exit: no waiting for any of it.
      assert.equal((await statuses()).solo, "offline");
      assert.match(await topic(), /^stopped at /);
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      assert.equal(status.lease, null, "the lease is given back");
    });
  } finally {
    await mcp.kill("SIGKILL");
  }
});

Deno.test("cchat mcp takes the sync loop over when the daemon holding it dies", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcpover"), "over", { prefix });
  const human = await Human.register(hs);
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const daemon = agent.daemon();
  const lease = async () => JSON.parse((await agent.run(["status", "--json"])).stdout).lease?.pid;
  await eventually("the daemon's lease", async () => await lease() === daemon.pid || undefined);
  const mcp = await startMcp(agent.env);
  try {
    await human.joinRoom(`#${prefix}:${hs.serverName}`);
    const roomId = await human.joinRoom(`#${prefix}-over:${hs.serverName}`);

    await t.step("while the daemon runs, the server stands by and reads its inbox", async () => {
      const eventId = await human.send(roomId, "first, through the daemon");
      const result = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 20 } });
      assert.equal(
        (result.structuredContent as { message: { event_id: string } }).message.event_id,
        eventId,
      );
      assert.equal(await lease(), daemon.pid);
    });

    await t.step(
      "kill -9 of the daemon: the server holds the lease within one lease period",
      async () => {
        const killedAt = Date.now();
        await daemon.stop("SIGKILL");
        await eventually(
          "the takeover",
          async () => await lease() === mcp.pid || undefined,
          // One lease period, and the time a status command takes to look.
          LEASE_TTL_MS + 2_000,
        );
        console.log(`takeover after ${Date.now() - killedAt} ms`);
        // A message sent now is synced by the server itself.
        await eventually("the server's first sync", async () => {
          const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
          return status.daemon?.pid === mcp.pid && status.daemon?.lastSyncAt ? true : undefined;
        });
        const eventId = await human.send(roomId, "second, after the daemon died");
        const result = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 20 } });
        assert.equal(
          (result.structuredContent as { message: { event_id: string } }).message.event_id,
          eventId,
        );
      },
    );

    await t.step(
      "a daemon started meanwhile is refused; once the server ends, one starts at once",
      async () => {
        const refused = await agent.run(["daemon"]);
        assert.equal(refused.code, 9, refused.stderr);
        const { code } = await mcp.closeStdin();
        assert.equal(code, 0, await mcp.stderr);
        const next = agent.daemon();
        await eventually(
          "the new daemon's lease",
          async () => await lease() === next.pid || undefined,
          5_000,
        );
        const stopped = await next.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      },
    );
  } finally {
    await mcp.kill("SIGKILL");
    await daemon.stop("SIGKILL");
  }
});

Deno.test("a cancelled MCP wait takes nothing: the next message goes to the next wait", async () => {
  await using served = await servedAgent("cancel");
  const { agent, human, mcp, roomId } = served;
  try {
    // As a client does when its user presses Esc, or its own timeout fires.
    const giveUp = new AbortController();
    const cancelled = mcp.client.callTool(
      { name: "wait", arguments: { timeout_s: 30 } },
      undefined,
      { signal: giveUp.signal },
    );
    setTimeout(() => giveUp.abort(new Error("the user pressed Esc")), 500);
    await assert.rejects(cancelled, /Esc/);
    const eventId = await human.send(roomId, "for whoever asks next");
    // Past the cancelled wait's safety poll: an orphan wait would have taken it by now.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const peek = JSON.parse((await agent.run(["inbox", "--peek", "--json"])).stdout);
    assert.deepEqual(peek.map((m: { event_id: string }) => m.event_id), [eventId]);
    const result = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 5 } });
    assert.equal(
      (result.structuredContent as { message: { event_id: string } }).message.event_id,
      eventId,
    );
  } finally {
    const { code } = await mcp.closeStdin();
    assert.equal(code, 0, await mcp.stderr);
  }
});

Deno.test("cchat mcp needs a name: it refuses to start without one, and takes --name", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcpname"), "unused", { prefix });
  const { CCHAT_NAME: _, ...unnamed } = agent.env;
  const refused = await cchat(["mcp"], unnamed);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /^error: No agent name is configured\.\nhint: Pass --name NAME/);
  assert.equal(refused.stdout, "");
  // printf '' | cchat mcp: a client gone before it said anything.
  const started = performance.now();
  const gone = await cchat(["mcp", "--name", "named"], unnamed, "");
  assert.equal(gone.code, 0, gone.stderr);
  assert.ok(performance.now() - started < 5_000, `${Math.round(performance.now() - started)} ms`);
  const mcp = await startMcp(unnamed, ["--name", "named"]);
  try {
    await eventually("the agent named by --name", async () => {
      const status = JSON.parse((await cchat(["status", "--json"], unnamed)).stdout);
      return status.daemon?.name === "named" && status.daemon?.lastSyncAt ? true : undefined;
    });
  } finally {
    const { code } = await mcp.closeStdin();
    assert.equal(code, 0, await mcp.stderr);
  }
});

Deno.test("after a daemon's clean stop, the server that takes over shows as running, not dead", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "mcpclean"), "clean", { prefix });
  const daemon = agent.daemon();
  const status = async () => JSON.parse((await agent.run(["status", "--json"])).stdout);
  await eventually(
    "the daemon running",
    async () => (await status()).state === "running" || undefined,
  );
  const mcp = await startMcp(agent.env);
  try {
    // Past the server's first try at the daemon's life lock (20 looks, 50 ms apart): it stands by.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    const taken = await eventually("the server's first sync", async () => {
      const now = await status();
      return now.lease?.pid === mcp.pid && now.daemon?.lastSyncAt ? now : undefined;
    });
    // Its life lock is what status goes by: a holder without one reads as dead.
    assert.equal(taken.state, "running", JSON.stringify(taken));
    assert.equal(taken.daemon.alive, true);
  } finally {
    await mcp.kill("SIGKILL");
    await daemon.stop("SIGKILL");
  }
});

Deno.test("through cchat mcp, a peek takes nothing and an ack takes what it names", async () => {
  await using served = await servedAgent("ack");
  const { human, mcp, roomId } = served;
  try {
    const eventId = await human.send(roomId, "look, then acknowledge");
    type Peeked = { messages: { id: number; event_id: string }[] };
    const peeked = await eventually("the message, peeked", async () => {
      const result = await mcp.client.callTool({ name: "inbox", arguments: { peek: true } });
      const { messages } = result.structuredContent as Peeked;
      return messages.length ? messages : undefined;
    });
    assert.deepEqual(peeked.map((m) => m.event_id), [eventId]);
    const again = await mcp.client.callTool({ name: "inbox", arguments: { peek: true } });
    assert.equal((again.structuredContent as Peeked).messages.length, 1, "a peek takes nothing");
    const acked = await mcp.client.callTool({ name: "ack", arguments: { ids: [peeked[0].id] } });
    assert.deepEqual(
      (acked.structuredContent as { acknowledged: { event_id: string }[] }).acknowledged
        .map((m) => m.event_id),
      [eventId],
    );
    const after = await mcp.client.callTool({ name: "wait", arguments: { timeout_s: 0 } });
    assert.equal((after.structuredContent as { message: unknown }).message, null);
    const unknown = await mcp.client.callTool({ name: "ack", arguments: { ids: [9999] } });
    assert.equal(unknown.isError, true);
  } finally {
    await mcp.kill("SIGKILL");
  }
});

/**
 * A cchat mcp serving a fresh agent named `name` whose sync loop has run once,
 * and a human in the agent's room. The caller ends the server.
 */
async function servedAgent(name: string) {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const agent = await agentCli(hs, await freshUser(hs, `mcp${name}`), name, { prefix });
  const human = await Human.register(hs);
  const mcp = await startMcp(agent.env);
  try {
    await eventually("the server's first sync", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      return status.daemon?.lastSyncAt ? true : undefined;
    });
    await human.joinRoom(`#${prefix}:${hs.serverName}`);
    const roomId = await human.joinRoom(`#${prefix}-${name}:${hs.serverName}`);
    return { agent, human, mcp, roomId, [Symbol.asyncDispose]: () => agent[Symbol.asyncDispose]() };
  } catch (err) {
    await mcp.kill("SIGKILL");
    await agent[Symbol.asyncDispose]();
    throw err;
  }
}
