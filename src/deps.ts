/**
 * Everything cchat takes from the outside world, in one object, so every
 * timing path and every I/O edge can be driven by a test without real waiting.
 */

export interface TextSink {
  write(text: string): void;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface Deps {
  fetch: typeof fetch;
  /**
   * A fetch of its own that keeps at most `maxIdle` idle connections per
   * host: a process hosting a fleet would otherwise keep one open for every
   * request it ever had in flight at once.
   */
  pooledFetch: (maxIdle: number) => { fetch: typeof fetch } & Disposable;
  /** Wall-clock milliseconds since the epoch. */
  now: () => number;
  sleep: Sleep;
  /** Uniform in [0, 1). */
  random: () => number;
  openKv: (path: string) => Promise<Deno.Kv>;
  env: (name: string) => string | undefined;
  stdout: TextSink;
  stderr: TextSink;
  stdin: ReadableStream<Uint8Array>;
  /** Whether stderr is a terminal: progress is shown only then. */
  stderrIsTerminal: boolean;
  hostname: () => string;
  pid: number;
  /**
   * Whether process `pid` on this host still runs: a crashed daemon leaves its
   * pid behind. True when the system will not tell.
   */
  processAlive: (pid: number) => boolean;
  /**
   * Resolves when the file at `path` next changes; rejects with the signal's
   * reason when aborted first. How another process tells this one to look.
   */
  watchFile: (path: string, signal: AbortSignal) => Promise<void>;
  /** Calls `handler` on SIGINT or SIGTERM; the returned function stops listening. */
  onShutdown: (handler: () => void) => () => void;
  /**
   * Answers HTTP on `address` with `handler` until `signal` aborts; throws
   * when the address cannot be had. `finished` resolves once the server closed.
   */
  serve: (
    address: { hostname: string; port: number },
    handler: (request: Request) => Promise<Response>,
    signal: AbortSignal,
  ) => { finished: Promise<void> };
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * Linux: /proc/PID exists and is not a zombie (a crashed child not yet reaped
 * still has an entry). Deno opens /proc only to --allow-all, and other systems
 * have no such file: then the process counts as alive and the lease's expiry
 * alone decides.
 */
export function procAlive(pid: number): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name in parentheses may itself hold ") ": the state follows the last one.
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    if (err instanceof Deno.errors.NotCapable) return true;
    throw err;
  }
}

/** The first change of `path`, through the system's file notifications. */
export async function watchFile(path: string, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const watcher = Deno.watchFs(path, { recursive: false });
  const close = () => watcher.close();
  signal.addEventListener("abort", close, { once: true });
  try {
    for await (const event of watcher) {
      if (event.kind === "modify" || event.kind === "create") return;
    }
    signal.throwIfAborted();
  } finally {
    signal.removeEventListener("abort", close);
    if (!signal.aborted) watcher.close();
  }
}

function sinkFor(stream: { writeSync(p: Uint8Array): number }): TextSink {
  const encoder = new TextEncoder();
  return {
    write(text) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
    },
  };
}

export function realDeps(): Deps {
  return {
    fetch: globalThis.fetch.bind(globalThis),
    pooledFetch: (maxIdle) => {
      const client = Deno.createHttpClient({ poolMaxIdlePerHost: maxIdle });
      return {
        fetch: (input, init) => fetch(input, { ...init, client }),
        [Symbol.dispose]: () => client.close(),
      };
    },
    now: Date.now,
    sleep: realSleep,
    random: Math.random,
    openKv: (path) => Deno.openKv(path),
    env: (name) => Deno.env.get(name),
    stdout: sinkFor(Deno.stdout),
    stderr: sinkFor(Deno.stderr),
    // Opening stdin's stream costs milliseconds; only the commands that read it pay.
    get stdin() {
      return Deno.stdin.readable;
    },
    stderrIsTerminal: Deno.stderr.isTerminal(),
    hostname: () => Deno.hostname(),
    pid: Deno.pid,
    processAlive: procAlive,
    watchFile,
    onShutdown: (handler) => {
      Deno.addSignalListener("SIGINT", handler);
      Deno.addSignalListener("SIGTERM", handler);
      return () => {
        Deno.removeSignalListener("SIGINT", handler);
        Deno.removeSignalListener("SIGTERM", handler);
      };
    },
    serve: (address, handler, signal) =>
      Deno.serve({ ...address, signal, onListen: () => {} }, handler),
  };
}
