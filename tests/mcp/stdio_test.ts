import assert from "node:assert/strict";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { StdioTransport } from "../../src/mcp/stdio.ts";
import { CapturedSink } from "../support/fakes.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** A transport reading what the test writes, answering into a captured sink. */
function transportOf(maxLineBytes?: number) {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const writer = pipe.writable.getWriter();
  const out = new CapturedSink();
  const warnings: string[] = [];
  const log = { info() {}, debug() {}, warn: (m: string) => warnings.push(m) };
  const transport = new StdioTransport(pipe.readable, out, log, maxLineBytes);
  const received: JSONRPCMessage[] = [];
  let closed = false;
  transport.onmessage = (message) => received.push(message);
  transport.onclose = () => closed = true;
  return {
    transport,
    writer,
    out,
    warnings,
    received,
    closed: () => closed,
    answers: () => out.lines.map((line) => JSON.parse(line)),
  };
}

const ping = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "ping" });

Deno.test("StdioTransport", async (t) => {
  await t.step("hands over one message per line, split across chunks however", async () => {
    const io = transportOf();
    await io.transport.start();
    const line = ping(1) + "\n" + ping(2) + "\n";
    for (const piece of [line.slice(0, 10), line.slice(10, 40), line.slice(40)]) {
      await io.writer.write(encode(piece));
    }
    await io.writer.close();
    await io.transport.finished();
    assert.deepEqual(io.received.map((m) => (m as { id: number }).id), [1, 2]);
  });

  await t.step("the end of stdin closes it: the client is gone", async () => {
    const io = transportOf();
    await io.transport.start();
    await io.writer.write(encode(ping(1)));
    await io.writer.close();
    await io.transport.finished();
    assert.equal(io.closed(), true);
    // A last line without its newline still counts.
    assert.equal(io.received.length, 1);
  });

  await t.step(
    "a line that is not JSON is a parse error with a null id, and reading goes on",
    async () => {
      const io = transportOf();
      await io.transport.start();
      await io.writer.write(encode("{not json\n" + ping(3) + "\n"));
      await io.writer.close();
      await io.transport.finished();
      assert.deepEqual(io.answers(), [{
        jsonrpc: "2.0",
        id: null,
        error: { code: -32700, message: "Parse error: the line is not JSON." },
      }]);
      assert.equal(io.received.length, 1);
      assert.equal(io.warnings.length, 1);
    },
  );

  await t.step(
    "JSON that is not JSON-RPC is an invalid request, with its id when it has one",
    async () => {
      const io = transportOf();
      await io.transport.start();
      await io.writer.write(encode(`{"id": 9, "method": 5}\n[1,2]\n`));
      await io.writer.close();
      await io.transport.finished();
      assert.deepEqual(io.answers().map((a) => [a.id, a.error.code]), [[9, -32600], [
        null,
        -32600,
      ]]);
      assert.equal(io.received.length, 0);
    },
  );

  await t.step(
    "a line over the limit is refused by its id, skipped whole, and the next one served",
    async () => {
      const io = transportOf(1_000);
      await io.transport.start();
      const huge = JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "send", arguments: { text: "x".repeat(5_000) } },
      });
      // In several chunks, the newline in the middle of the last one, as a pipe delivers it.
      await io.writer.write(encode(huge.slice(0, 600)));
      await io.writer.write(encode(huge.slice(600, 3_000)));
      await io.writer.write(encode(huge.slice(3_000) + "\n" + ping(8) + "\n"));
      await io.writer.close();
      await io.transport.finished();
      const [refusal] = io.answers();
      assert.equal(refusal.id, 7);
      assert.equal(refusal.error.code, -32600);
      assert.match(refusal.error.message, /over 1000 bytes/);
      assert.deepEqual(io.received.map((m) => (m as { id: number }).id), [8]);
      assert.match(io.warnings.join("\n"), /over 1000 bytes/);
    },
  );

  await t.step("a stdout that cannot be written fails the send and closes", async () => {
    const io = transportOf();
    await io.transport.start();
    io.out.write = () => {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    };
    await assert.rejects(io.transport.send({ jsonrpc: "2.0", id: 1, result: {} }), /Broken pipe/);
    assert.equal(io.closed(), true);
    await assert.rejects(io.transport.send({ jsonrpc: "2.0", id: 2, result: {} }), /gone/);
    await io.writer.close().catch(() => {});
    await io.transport.finished();
  });
});
