/**
 * MCP's stdio transport on Deno's own streams: one JSON-RPC message per line.
 * The server lives exactly as long as its client: the end of stdin (the
 * client closed it, or died) closes the transport, and so does a stdout that
 * can no longer be written. A line that is not JSON, not a JSON-RPC message,
 * or too long to be one is answered with the standard error and skipped; the
 * server keeps serving.
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import type { TextSink } from "../deps.ts";
import type { Logger } from "../log.ts";

/**
 * The longest line read. A tool call carries at most one message of 64,000
 * bytes, which JSON escaping can grow a few times; anything near this is not
 * a client's request.
 */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;

/** A request's id read from the start of a line too long to parse, so its client is not left waiting. */
function leadingId(head: Uint8Array): RequestId | null {
  const text = new TextDecoder().decode(head.subarray(0, 512));
  const match = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")/
    .exec(text);
  return match ? JSON.parse(match[1]) : null;
}

export class StdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #input: ReadableStream<Uint8Array>;
  readonly #output: TextSink;
  readonly #log: Logger;
  readonly #maxLineBytes: number;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #reading?: Promise<void>;
  #closed = false;

  constructor(
    input: ReadableStream<Uint8Array>,
    output: TextSink,
    log: Logger,
    maxLineBytes = MAX_LINE_BYTES,
  ) {
    this.#input = input;
    this.#output = output;
    this.#log = log;
    this.#maxLineBytes = maxLineBytes;
  }

  start(): Promise<void> {
    this.#reader = this.#input.getReader();
    this.#reading = this.#read(this.#reader);
    return Promise.resolve();
  }

  /** Resolves once the message is written whole; rejects (and closes) when it cannot be. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error("The MCP client is gone: stdout is closed.");
    try {
      this.#output.write(JSON.stringify(message) + "\n");
    } catch (err) {
      this.#log.warn(`The MCP client no longer reads stdout (${(err as Error).message}); closing.`);
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader?.cancel().catch(() => {});
    this.onclose?.();
  }

  /** Resolves when reading has stopped, by the end of stdin or by `close`. */
  async finished(): Promise<void> {
    await this.#reading;
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    let parts: Uint8Array[] = [];
    let size = 0;
    /** Past the limit, the rest of the line is dropped unread, up to its newline. */
    let skipping: { head: Uint8Array } | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        let chunk = value;
        for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE)) {
          if (skipping) {
            this.#tooLong(skipping.head);
            skipping = undefined;
          } else if (size + nl > this.#maxLineBytes) {
            this.#tooLong(parts[0] ?? chunk);
          } else {
            parts.push(chunk.subarray(0, nl));
            this.#line(parts);
          }
          parts = [];
          size = 0;
          chunk = chunk.subarray(nl + 1);
        }
        if (skipping || chunk.length === 0) continue;
        if (size + chunk.length > this.#maxLineBytes) {
          skipping = { head: parts[0] ?? chunk };
          parts = [];
          size = 0;
          continue;
        }
        // Copied: the stream may reuse the chunk's buffer.
        parts.push(chunk.slice());
        size += chunk.length;
      }
      if (skipping) this.#tooLong(skipping.head);
      else if (size > 0) this.#line(parts);
    } catch (err) {
      if (!this.#closed) this.onerror?.(err as Error);
    } finally {
      reader.releaseLock();
    }
    // The end of stdin is the client's goodbye.
    await this.close();
  }

  #line(parts: Uint8Array[]): void {
    const bytes = parts.length === 1 ? parts[0] : concat(parts);
    const text = new TextDecoder().decode(bytes).trim();
    if (text === "") return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.#log.warn("A line from the MCP client is not JSON; it was answered with a parse error.");
      return this.#answer(null, ErrorCode.ParseError, "Parse error: the line is not JSON.");
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown })?.id;
      const known = typeof id === "string" || typeof id === "number" ? id : null;
      this.#log.warn("A line from the MCP client is not a JSON-RPC 2.0 message; it was refused.");
      return this.#answer(
        known,
        ErrorCode.InvalidRequest,
        "Invalid request: not a JSON-RPC 2.0 message.",
      );
    }
    this.onmessage?.(parsed.data);
  }

  #tooLong(head: Uint8Array): void {
    this.#log.warn(
      `A line from the MCP client is over ${this.#maxLineBytes} bytes; it was skipped.`,
    );
    this.#answer(
      leadingId(head),
      ErrorCode.InvalidRequest,
      `Invalid request: a line is over ${this.#maxLineBytes} bytes.`,
    );
  }

  #answer(id: RequestId | null, code: number, message: string): void {
    // JSON-RPC answers an unreadable request with a null id.
    const error = { jsonrpc: "2.0", id, error: { code, message } } as unknown as JSONRPCMessage;
    this.send(error).catch(() => {});
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}
