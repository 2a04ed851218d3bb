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
