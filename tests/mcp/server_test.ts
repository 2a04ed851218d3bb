/**
 * The MCP server as a client drives it, in this process: JSON-RPC lines in,
 * answers out, over the stdio transport, with the inbox in a real KV file and
 * time virtual.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../src/log.ts";
import {
  CHANNEL_EVENT,
  DEFAULT_WAIT_S,
  INSTRUCTIONS,
  mcpServer,
  type McpServerOptions,
  PERMISSION_EVENT,
  PROGRESS_EVERY_MS,
} from "../../src/mcp/server.ts";
import { StdioTransport } from "../../src/mcp/stdio.ts";
import { CapturedSink } from "../support/fakes.ts";
import { agentRoomHomeserver, BOB, commandHarness } from "../support/commands.ts";
import type { Store } from "../../src/store/store.ts";
import type { OpContext } from "../../src/ops/local.ts";
import { PermissionRelay } from "../../src/ops/permission.ts";
import type { Handler } from "../support/fakes.ts";
import { inboxMessage, MCP_TOOLS } from "../support/fixtures.ts";

/** A JSON-RPC message from the server, as the tests read it. */
interface Answer {
  id?: number | null;
  // deno-lint-ignore no-explicit-any
  result?: any;
  error?: { code: number; message: string };
  method?: string;
  // deno-lint-ignore no-explicit-any
  params?: any;
}

/** An answering sink: each line written is an MCP message the test can wait for. */
class Answers extends CapturedSink {
  fail = false;
  #waiters: (() => void)[] = [];
  override write(text: string): void {
    if (this.fail) throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    super.write(text);
    for (const wake of this.#waiters.splice(0)) wake();
  }
  get all(): Answer[] {
    return this.lines.map((line) => JSON.parse(line));
  }
  /** The answer to request `id`, once written. */
  async to(id: number): Promise<Answer> {
    for (;;) {
      const found = this.all.find((a) => a.id === id && !("method" in a));
      if (found) return found;
      await new Promise<void>((wake) => this.#waiters.push(wake));
    }
  }
}

async function serving(
  options: McpServerOptions | ((ctx: OpContext) => McpServerOptions) = {},
  env: Record<string, string> = {},
  handler?: Handler,
) {
  const h = await commandHarness(handler);
  Object.assign(h.env, env);
  await h.login();
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const writer = pipe.writable.getWriter();
  const out = new Answers();
  const transport = new StdioTransport(pipe.readable, out, silentLogger);
  const ctx = { deps: h.deps, log: silentLogger };
  const served = mcpServer(ctx, typeof options === "function" ? options(ctx) : options)
    .serve(transport);
  let next = 1;
  const line = (message: unknown) =>
    writer.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
  const request = async (method: string, params: unknown = {}) => {
    const id = next++;
    await line({ jsonrpc: "2.0", id, method, params });
    return id;
  };
  const initialized = await h.clock.run(
    request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "test", version: "1" },
    }).then((id) => out.to(id)),
  );
  await line({ jsonrpc: "2.0", method: "notifications/initialized" });
  return {
    h,
    out,
    initialized,
    line,
    request,
    /** Calls a tool and waits for its answer, on virtual time. */
    call: async (name: string, args?: unknown, meta?: unknown) =>
      await h.clock.run(
        request("tools/call", { name, arguments: args, ...(meta ? { _meta: meta } : {}) })
          .then((id) => out.to(id)),
      ),
    cancel: (requestId: number) =>
      line({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId } }),
    /** Closes stdin, as a client that exits or dies does; resolves when the server has ended. */
    closeStdin: async () => {
      await writer.close().catch(() => {});
      await h.clock.run(served);
    },
    // On the clock: a store that meets the server's own writes retries after a (virtual) pause.
    unreadIds: () =>
      h.clock.run(h.store(async (store) => (await store.unread()).map((m) => m.eventId))),
    /**
     * Lets the server run until `done` holds: it works on real KV turns as
     * well as virtual time, so a fixed stretch of virtual time is not enough.
     */
    until: async (done: () => boolean | Promise<boolean>) => {
      for (let look = 0; !(await done()); look++) {
        assert.ok(look < 200, "it never happened");
        await h.clock.run(h.clock.sleep(100));
      }
    },
    /** Stores `messages` as the daemon does, while the server runs. */
    deliver: (messages: Parameters<Store["commitBatch"]>[0], since: string) =>
      h.clock.run(h.store((store) => store.commitBatch(messages, since))),
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      await h.clock.run(served);
      await h[Symbol.asyncDispose]();
    },
  };
}

Deno.test("the MCP server's protocol is strict", async (t) => {
  await using mcp = await serving();

  await t.step("tools/list: six tools whose schemas allow no other argument", async () => {
    const { result } = await mcp.h.clock.run(
      mcp.request("tools/list").then((id) => mcp.out.to(id)),
    );
    const tools = result.tools as { name: string; inputSchema: Record<string, unknown> }[];
    assert.deepEqual(tools.map((tool) => tool.name).sort(), MCP_TOOLS);
    for (const tool of tools) assert.equal(tool.inputSchema.additionalProperties, false, tool.name);
    const wait = tools.find((tool) => tool.name === "wait")!;
    assert.deepEqual(wait.inputSchema.required ?? [], []);
  });

  await t.step("arguments that are not an object are invalid params (-32602)", async () => {
    for (const args of ["text", [1], 5]) {
      const answer = await mcp.call("inbox", args);
      assert.equal(answer.error?.code, -32602, JSON.stringify(args));
    }
  });

  await t.step("an unknown tool is invalid params (-32602)", async () => {
    const answer = await mcp.call("delete_everything", {});
    assert.equal(answer.error?.code, -32602);
    assert.match(answer.error!.message, /no tool is called "delete_everything"/);
  });

  await t.step("an argument outside the schema is a tool error the model can read", async () => {
    const answer = await mcp.call("inbox", { peek: true, all: true });
    assert.equal(answer.result.isError, true);
    assert.match(answer.result.content[0].text, /Invalid arguments for "inbox"/);
    assert.match(answer.result.content[0].text, /all/);
    const wrongType = await mcp.call("wait", { timeout_s: "soon" });
    assert.equal(wrongType.result.isError, true);
    const tooLong = await mcp.call("wait", { timeout_s: 100_000 });
    assert.equal(tooLong.result.isError, true);
  });

  await t.step("values the operation refuses are tool errors with its hint", async () => {
    for (
      const [name, args] of [
        ["wait", { timeout_s: -1 }],
        ["inbox", { limit: 0 }],
        ["ack", { ids: [] }],
        ["history", { limit: 500 }],
      ] as const
    ) {
      const answer = await mcp.call(name, args);
      assert.equal(answer.result.isError, true, name);
      assert.match(answer.result.content[0].text, /\nhint: /, name);
    }
  });
});

Deno.test("a wait that does not reach its client takes nothing", async (t) => {
  await t.step("cancelled while it waits: the next message stays unread", async () => {
    await using mcp = await serving();
    const id = await mcp.request("tools/call", { name: "wait", arguments: { timeout_s: 60 } });
    await mcp.h.clock.run(Promise.resolve());
    await mcp.cancel(id);
    await mcp.deliver([inboxMessage(1)], "s1");
    // Long past the safety poll and the timeout the cancelled call had.
    await mcp.h.clock.run(mcp.h.clock.sleep(120_000));
    assert.deepEqual(await mcp.unreadIds(), ["$m1"]);
    assert.equal(mcp.out.all.some((a) => a.id === id), false, "a cancelled call gets no answer");
  });

  await t.step("cancelled as it takes a message: the message is put back", async () => {
    await using mcp = await serving();
    await mcp.deliver([inboxMessage(1)], "s1");
    // The cancel follows on the same read, before the call could answer.
    const id = 50;
    await mcp.line({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name: "wait", arguments: { timeout_s: 5 } },
    });
    await mcp.cancel(id);
    await mcp.h.clock.run(mcp.h.clock.sleep(10_000));
    assert.deepEqual(await mcp.unreadIds(), ["$m1"]);
  });

  await t.step("an answer that cannot be written puts the message back", async () => {
    await using mcp = await serving();
    await mcp.deliver([inboxMessage(1), inboxMessage(2)], "s1");
    mcp.out.fail = true;
    await mcp.request("tools/call", { name: "inbox", arguments: {} });
    // A stdout that fails means the client is gone: the server ends, settling what it took.
    await mcp.closeStdin();
    assert.deepEqual(await mcp.unreadIds(), ["$m1", "$m2"]);
  });

  await t.step("the client going away puts back what a call took", async () => {
    await using mcp = await serving();
    await mcp.deliver([inboxMessage(1)], "s1");
    const id = await mcp.request("tools/call", { name: "wait", arguments: { timeout_s: 5 } });
    await mcp.closeStdin();
    assert.equal(mcp.out.all.some((a) => a.id === id), false);
    assert.deepEqual(await mcp.unreadIds(), ["$m1"]);
  });
});

Deno.test("a wait that reaches its client marks the message read and leaves a receipt", async () => {
  await using mcp = await serving();
  await mcp.deliver([inboxMessage(1)], "s1");
  const answer = await mcp.call("wait", { timeout_s: 5 });
  assert.equal(answer.result.structuredContent.message.event_id, "$m1");
  await mcp.h.clock.run(mcp.h.clock.sleep(100));
  assert.deepEqual(await mcp.unreadIds(), []);
  const receipts = await mcp.h.clock.run(mcp.h.store((store) => store.pendingReceipts()));
  assert.deepEqual(receipts.map((r) => r.eventId), ["$m1"]);
});

Deno.test("wait without a timeout ends before a 60 s client gives up, with progress if asked", async () => {
  await using mcp = await serving();
  const started = mcp.h.clock.time;
  const answer = await mcp.call("wait", {}, { progressToken: "p1" });
  assert.deepEqual(answer.result.structuredContent, { message: null });
  assert.equal(mcp.h.clock.time - started, DEFAULT_WAIT_S * 1000);
  assert.ok(DEFAULT_WAIT_S < 60);
  const progress = mcp.out.all.filter((a) => a.method === "notifications/progress");
  assert.equal(progress.length, Math.floor(DEFAULT_WAIT_S * 1000 / PROGRESS_EVERY_MS));
  assert.deepEqual(progress.map((p) => p.params.progressToken), progress.map(() => "p1"));
  assert.deepEqual(progress[0].params.total, DEFAULT_WAIT_S);
  // Without a token, no notification.
  const before = mcp.out.all.length;
  await mcp.call("wait", { timeout_s: 30 });
  assert.equal(mcp.out.all.slice(before).filter((a) => a.method).length, 0);
});

Deno.test("as a channel, the server pushes what allowed senders write, once", async (t) => {
  const env = { CCHAT_CHANNEL_SENDERS: "@alice:hs.test" };
  const pushed = (out: Answers) => out.all.filter((a) => a.method === CHANNEL_EVENT);

  await t.step("it says it is a channel, and how to answer, when it connects", async () => {
    await using mcp = await serving({ channel: true }, env);
    const { result } = mcp.initialized;
    assert.deepEqual(result.capabilities.experimental, { "claude/channel": {} });
    assert.ok(result.instructions.startsWith(INSTRUCTIONS));
    assert.match(result.instructions, /<channel source="cchat"/);
    await using plain = await serving();
    assert.equal(plain.initialized.result.capabilities.experimental, undefined);
    assert.equal(plain.initialized.result.instructions, INSTRUCTIONS);
  });

  await t.step(
    "an allowed sender's message is one event, read; another's stays for wait",
    async () => {
      await using mcp = await serving({ channel: true }, env);
      await mcp.deliver([
        { ...inboxMessage(1), body: "deploy?\u202e", threadRoot: "$root" },
        inboxMessage(2, { sender: "@mallory:hs.test" }),
      ], "s1");
      await mcp.until(() => pushed(mcp.out).length > 0);
      const events = pushed(mcp.out);
      assert.equal(events.length, 1);
      assert.deepEqual(events[0].params, {
        content: "deploy?\\u202e",
        meta: {
          id: "1",
          event_id: "$m1",
          sender: "@alice:hs.test",
          room_id: "!own:hs.test",
          route: "direct",
          thread_root: "$root",
        },
      });
      assert.deepEqual(await mcp.unreadIds(), ["$m2"]);
      const receipts = await mcp.h.clock.run(mcp.h.store((store) => store.pendingReceipts()));
      assert.deepEqual(receipts.map((r) => r.eventId), ["$m1"]);
      const waited = await mcp.call("wait", { timeout_s: 1 });
      assert.equal(waited.result.structuredContent.message.event_id, "$m2");
    },
  );

  await t.step("a message stored later is pushed too, by the next look at the latest", async () => {
    await using mcp = await serving({ channel: true }, env);
    await mcp.h.clock.run(mcp.h.clock.sleep(100));
    assert.equal(pushed(mcp.out).length, 0);
    await mcp.deliver([inboxMessage(3)], "s2");
    await mcp.until(() => pushed(mcp.out).length > 0);
    assert.deepEqual(pushed(mcp.out).map((event) => event.params.meta.event_id), ["$m3"]);
  });

  await t.step("without channel_senders nothing is pushed, and the server says why", async () => {
    await using mcp = await serving({ channel: true });
    await mcp.deliver([inboxMessage(4)], "s3");
    await mcp.h.clock.run(mcp.h.clock.sleep(6_000));
    assert.equal(pushed(mcp.out).length, 0);
    assert.deepEqual(await mcp.unreadIds(), ["$m4"]);
  });

  await t.step("a push that cannot be written puts the message back", async () => {
    await using mcp = await serving({ channel: true }, env);
    mcp.out.fail = true;
    await mcp.deliver([inboxMessage(5)], "s4");
    await mcp.h.clock.run(mcp.h.clock.sleep(6_000));
    await mcp.closeStdin();
    assert.deepEqual(await mcp.unreadIds(), ["$m5"]);
  });

  await t.step("a server that is no channel pushes nothing", async () => {
    await using mcp = await serving({}, env);
    await mcp.deliver([inboxMessage(6)], "s5");
    await mcp.h.clock.run(mcp.h.clock.sleep(6_000));
    assert.equal(pushed(mcp.out).length, 0);
    assert.deepEqual(await mcp.unreadIds(), ["$m6"]);
  });
});

Deno.test("as a channel with approvers, a tool-use approval is relayed to the room", async (t) => {
  const ALICE = "@alice:hs.test";
  const relayed = (ctx: OpContext) => ({
    channel: true,
    permissions: new PermissionRelay(ctx, "bob", new Set([ALICE])),
  });
  const request = {
    jsonrpc: "2.0",
    method: "notifications/claude/channel/permission_request",
    params: {
      request_id: "kqwzx",
      tool_name: "Bash",
      description: "Run shell command",
      input_preview: '{"command":"make deploy"}',
    },
  };
  const verdicts = (out: Answers) =>
    out.all.filter((a) => a.method === PERMISSION_EVENT).map((a) => a.params);

  await t.step("it says it relays, and posts each request in the agent's room", async () => {
    await using mcp = await serving(relayed, {}, agentRoomHomeserver({ name: "bob", owner: BOB }));
    assert.deepEqual(mcp.initialized.result.capabilities.experimental, {
      "claude/channel": {},
      "claude/channel/permission": {},
    });
    await mcp.line(request);
    await mcp.until(() => mcp.h.requests.some((r) => r.method === "PUT"));
    const put = mcp.h.requests.find((r) => r.method === "PUT")!;
    assert.match(decodeURIComponent(put.url.pathname), /\/rooms\/!bob:hs\.test\/send\//);
    assert.match((put.body as { body: string }).body, /"yes kqwzx" or "no kqwzx"/);
  });

  await t.step("an approver's answer goes back once; anyone else's is a message", async () => {
    await using mcp = await serving(relayed, {}, agentRoomHomeserver({ name: "bob", owner: BOB }));
    await mcp.line(request);
    await mcp.h.clock.run(mcp.h.clock.sleep(100));
    await mcp.deliver([
      inboxMessage(1, { sender: "@mallory:hs.test", body: "yes kqwzx" }),
      inboxMessage(2, { sender: ALICE, body: "no KQWZX" }),
      inboxMessage(3, { sender: ALICE, body: "yes kqwzx" }),
    ], "s1");
    await mcp.until(() => verdicts(mcp.out).length > 0);
    assert.deepEqual(verdicts(mcp.out), [{ request_id: "kqwzx", behavior: "deny" }]);
    // The answer that counted is read; the others wait for the tools as messages.
    assert.deepEqual(await mcp.unreadIds(), ["$m1", "$m3"]);
  });

  await t.step("without approvers nothing is relayed, and no relay is declared", async () => {
    await using mcp = await serving({ channel: true });
    assert.deepEqual(mcp.initialized.result.capabilities.experimental, { "claude/channel": {} });
    await mcp.line(request);
    await mcp.h.clock.run(mcp.h.clock.sleep(100));
    assert.equal(mcp.h.requests.length, 0);
  });
});
