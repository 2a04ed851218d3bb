/**
 * How one process tells another at once that the data file changed (the
 * daemon stored messages, a reader left read receipts): the writer touches a
 * file beside the KV file, and the other side watches it. KV's own watch does
 * not see other processes' writes.
 */
import type { Deps } from "../deps.ts";

export interface ChangeSignal {
  /** Says that the data it stands for changed. */
  notify(): Promise<void>;
  /** Resolves at the next `notify`, of this process or another; rejects when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void>;
}

/** The signal file of a data directory; it must exist before anyone watches it. */
export async function fileSignal(
  path: string,
  deps: Pick<Deps, "watchFile">,
): Promise<ChangeSignal> {
  // Private like the data beside it; its contents say nothing, only its changes count.
  await Deno.writeTextFile(path, "", { append: true, mode: 0o600 });
  return {
    // A write, however small, is what the watchers are told of.
    notify: () => Deno.writeTextFile(path, ".", { mode: 0o600 }),
    changed: (signal) => deps.watchFile(path, signal),
  };
}

/**
 * The signals of a data directory shared by everything one process runs (the
 * MCP server's sync loop and its tools): a notify wakes this process's own
 * waiters at once, as well as writing the file other processes watch.
 */
export class SignalHub {
  readonly #signals = new Map<string, Promise<ChangeSignal>>();

  constructor(private readonly deps: Pick<Deps, "watchFile">) {}

  signal(path: string): Promise<ChangeSignal> {
    let signal = this.#signals.get(path);
    if (!signal) {
      signal = fileSignal(path, this.deps).then(alsoInProcess);
      this.#signals.set(path, signal);
    }
    return signal;
  }
}

/**
 * `file`, whose notify also reaches this process's waiters without the file's
 * round trip, and whose changes made by other processes reach them all through
 * one watch of the file, held while any waits: a fleet's thousand agents each
 * waiting would otherwise each hold a system watch, and make one every wait.
 */
function alsoInProcess(file: ChangeSignal): ChangeSignal {
  const here = new EventTarget();
  let waiters = 0;
  let watching: AbortController | undefined;
  const watch = async (stop: AbortSignal) => {
    // A watch that fails (no notifications here) leaves the waiters to notifies and their own looks.
    while (await file.changed(stop).then(() => true, () => false)) {
      here.dispatchEvent(new Event("change"));
    }
    if (watching?.signal === stop) watching = undefined;
  };
  return {
    async notify() {
      here.dispatchEvent(new Event("change"));
      await file.notify();
    },
    changed(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        const end = () => {
          here.removeEventListener("change", changed);
          signal.removeEventListener("abort", stopped);
          if (--waiters > 0) return;
          watching?.abort();
          watching = undefined;
        };
        const changed = () => (end(), resolve());
        const stopped = () => (end(), reject(signal.reason));
        here.addEventListener("change", changed);
        signal.addEventListener("abort", stopped);
        waiters++;
        if (!watching) {
          watching = new AbortController();
          watch(watching.signal);
        }
      });
    },
  };
}
