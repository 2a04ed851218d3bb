/** Test doubles for the deps object: virtual time, scripted fetch, captured output. */
import type { Deps, TextSink } from "../../src/deps.ts";

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/**
 * Virtual time: `sleep` parks a timer and `run` fires timers in order,
 * jumping the clock, so minutes of backoff take no real time.
 */
export class VirtualClock {
  time: number;
  readonly sleeps: number[] = [];
  #timers: Timer[] = [];
  #seq = 0;
  /** Real operations in flight (see `realKv`); time stands still until they finish. */
  #pending = 0;

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now = (): number => this.time;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      this.sleeps.push(ms);
      const timer: Timer = {
        at: this.time + Math.max(0, ms),
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#timers.push(timer);
    });

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Settles `work`, firing timers whenever nothing else can make progress.
   *
   * A macrotask turn drains every microtask, so after one the code under test
   * has run as far as it can without a timer, unless it waits on real I/O: a KV
   * read or write finishes on another thread after an unknown number of turns.
   * Counting those operations (every KV reached through `realKv`) instead of
   * guessing a number of idle turns makes the order deterministic: the next
   * timer fires only when none is in flight and a full turn has passed since.
   */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const done = work.finally(() => settled = true);
    done.catch(() => {});
    while (!settled) {
      await new Promise((r) => setTimeout(r, 0));
      if (settled || this.#pending > 0) continue;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) continue;
      this.time = Math.max(this.time, next.at);
      next.resolve();
    }
    return await done;
  }

  /** `kv`, with every read, write and commit counted as real work that `run` waits for. */
  realKv(kv: Deno.Kv): Deno.Kv {
    return this.#tracked(kv);
  }

  /** Promises that methods of `target` (and of the objects they return) hand out are counted. */
  #tracked<T extends object>(target: T): T {
    const proxy: T = new Proxy(target, {
      get: (object, key) => {
        const value = Reflect.get(object, key, object);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const result = value.apply(object, args);
          if (result === object) return proxy; // chained atomic().set().commit()
          if (result instanceof Promise) {
            this.#pending++;
            const finish = () => void this.#pending--;
            result.then(finish, finish);
            return result;
          }
          // Atomic operations and list iterators hand out promises of their own.
          return typeof result === "object" && result !== null ? this.#tracked(result) : result;
        };
      },
    });
    return proxy;
  }
}

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: unknown;
  at: number;
  /** The request's own signal: a handler that never answers rejects on it, as a real fetch does. */
  signal?: AbortSignal;
}

/** An answer that never comes: the request ends only when its signal aborts it. */
export function noAnswer(request: RecordedRequest): Promise<never> {
  return new Promise((_, reject) => {
    request.signal?.addEventListener("abort", () => reject(request.signal!.reason), { once: true });
  });
}

export type Handler = (request: RecordedRequest) => Response | Promise<Response>;

/** A fetch that answers from `handler` and records every request it saw. */
export function fakeFetch(handler: Handler, clock?: { now(): number }) {
  const requests: RecordedRequest[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const text = await request.text();
    const recorded: RecordedRequest = {
      method: request.method,
      url: new URL(request.url),
      headers: request.headers,
      body: text ? JSON.parse(text) : undefined,
      at: clock?.now() ?? 0,
    };
    requests.push(recorded);
    init?.signal?.throwIfAborted();
    return await handler({ ...recorded, signal: init?.signal ?? undefined });
  };
  return { fetch: fetch as typeof globalThis.fetch, requests };
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export class CapturedSink implements TextSink {
  text = "";
  write(text: string): void {
    this.text += text;
  }
  get lines(): string[] {
    return this.text.split("\n").filter((line) => line !== "");
  }
}

/** A complete deps object on virtual time; override what a test needs. */
export function fakeDeps(overrides: Partial<Deps> = {}, clock = new VirtualClock()) {
  const stdout = new CapturedSink();
  const stderr = new CapturedSink();
  const env: Record<string, string> = {};
  const deps: Deps = {
    fetch: () => Promise.reject(new Error("no fetch in this test")),
    // The test's fetch, whatever it is by then.
    pooledFetch: () => ({ fetch: (input, init) => deps.fetch(input, init), [Symbol.dispose]() {} }),
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    openKv: async (path) => clock.realKv(await Deno.openKv(path)),
    env: (name) => env[name],
    stdout,
    stderr,
    stdin: new ReadableStream({ start: (c) => c.close() }),
    stderrIsTerminal: false,
    hostname: () => "test-host",
    pid: 4242,
    // Only this process runs, unless a test says otherwise.
    processAlive: (pid) => pid === 4242,
    // Nothing changes files here unless a test says so: a watch ends only with its signal.
    watchFile: (_path, signal) =>
      new Promise((_, reject) => {
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    onShutdown: () => () => {},
    serve: () => {
      throw new Error("no server in this test");
    },
    ...overrides,
  };
  return { deps, stdout, stderr, clock, env };
}
