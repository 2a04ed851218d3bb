/**
 * `cchat mcp` as a child process, driven by the MCP SDK's own Client over the
 * child's pipes. Unlike the SDK's stdio transport, closing it only closes the
 * child's stdin, as a client that exits or crashes does: no SIGTERM follows,
 * so a server that ignores the end of its input shows.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type JSONRPCNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { CCHAT } from "./cli.ts";

/** How long a server may take to exit once its stdin closed before the harness kills it. */
const EXIT_DEADLINE_MS = 10_000;

/** A client transport over a child's stdin and stdout, one JSON-RPC message per line. */
class ChildTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: ReadableStream<Uint8Array>;
  #reading?: Promise<void>;
  #closed = false;

  constructor(child: Deno.ChildProcess) {
    this.#stdin = child.stdin.getWriter();
    this.#stdout = child.stdout;
  }

  start(): Promise<void> {
    this.#reading = this.#read();
    return Promise.resolve();
  }

  async #read(): Promise<void> {
    const lines = this.#stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const parsed = JSONRPCMessageSchema.safeParse(JSON.parse(line));
      if (parsed.success) this.onmessage?.(parsed.data);
      else this.onerror?.(new Error(`not JSON-RPC: ${line}`));
    }
    this.#end();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
  }

  /** Closes the child's stdin, nothing more. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#stdin.close().catch(() => {});
    }
    this.#end();
  }

  #ended = false;
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onclose?.();
  }

  /** Resolves once the child's stdout has ended. */
  async drained(): Promise<void> {
    await this.#reading;
  }
}

function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const part of parts) controller.enqueue(part);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}

export interface McpChild {
  client: Client;
  pid: number;
  /** What the server wrote on stderr, once it has exited. */
  stderr: Promise<string>;
  /** Its exit, with how long it took from `closeStdin`. */
  status: Promise<Deno.CommandStatus>;
  /** Closes stdin and no more, as a crashed client does; resolves when the server exits. */
  closeStdin(): Promise<{ code: number; ms: number }>;
  /** A signal for a client's death, here or of the server (SIGKILL). */
  kill(signal: Deno.Signal): Promise<Deno.CommandStatus>;
  /** The params of every notification of `method` the server sent so far (a channel's events). */
  notified(method: string): unknown[];
}

/** Starts `cchat mcp ARGS` with `env` and connects an MCP client to it. */
export async function startMcp(
  env: Record<string, string>,
  args: string[] = [],
): Promise<McpChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...CCHAT, "mcp", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const transport = new ChildTransport(child);
  const client = new Client({ name: "cchat-test", version: "1" });
  // Those the SDK has no handler of its own for: a channel's events and verdicts.
  const notifications: JSONRPCNotification[] = [];
  client.fallbackNotificationHandler = (notification: JSONRPCNotification) => {
    notifications.push(notification);
    return Promise.resolve();
  };
  const status = child.status;
  try {
    await client.connect(transport);
  } catch (err) {
    // It may have exited on its own: its stderr then says why.
    if ((await Promise.race([status, null])) === null) child.kill("SIGKILL");
    await status;
    throw new Error(`cchat mcp did not start: ${err}\n${await stderr}`);
  }
  return {
    client,
    pid: child.pid,
    stderr,
    notified: (method) =>
      notifications.filter((notification) => notification.method === method)
        .map((notification) => notification.params),
    status: status.then(async (s) => {
      await transport.drained();
      return s;
    }),
    async closeStdin() {
      const started = performance.now();
      await transport.close();
      // A server that ignores the end of its input would run for ever: fail instead of hanging.
      const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_DEADLINE_MS);
      const { code, signal } = await status;
      clearTimeout(timer);
      await transport.drained();
      if (signal === "SIGKILL") {
        throw new Error(`cchat mcp ran on ${EXIT_DEADLINE_MS} ms after its stdin closed`);
      }
      return { code, ms: performance.now() - started };
    },
    async kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      await transport.close();
      const result = await status;
      await transport.drained();
      return result;
    },
  };
}
