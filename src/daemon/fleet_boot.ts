/**
 * How the agents of one process boot together: a few boot attempts at a time,
 * and none goes live (syncs or beats) until all have booted.
 *
 * - Every join and every directory entry a booting agent writes into the Space
 *   or the lobby wakes the long-poll of each member already syncing there, so
 *   agents that went live one by one while the rest booted would make a
 *   fleet's boot cost grow with the square of its size.
 * - Hundreds of boots at once queue more requests than the homeserver answers
 *   within a request's timeout; the timed-out ones are sent again while the
 *   server still works on them, and a large fleet never comes up.
 */
import pLimit from "p-limit";
import type { Sleep } from "../deps.ts";

/**
 * Without news for this long, the gate opens anyway: an agent stuck in a
 * long retry must not keep the others offline. Longer than one retry wait.
 */
export const BOOT_STALL_MS = 60_000;

/**
 * Boot attempts in flight at once. A homeserver answers one agent's few
 * requests in well under a second, so a handful keeps it busy; more only
 * lengthens its queue.
 */
export const BOOTS_AT_ONCE = 8;

export class FleetBoot {
  readonly #waiting: Set<string>;
  readonly #open = Promise.withResolvers<void>();
  /** Ends the stall watch once the gate is open. */
  readonly #opened = new AbortController();
  readonly #slots = pLimit(BOOTS_AT_ONCE);

  /** `names`: every agent that will arrive; `sleep` times the stall watch. */
  constructor(names: Iterable<string>, sleep: Sleep, stallMs = BOOT_STALL_MS) {
    this.#waiting = new Set(names);
    if (this.#waiting.size === 0) this.#openNow();
    else this.#watchStalls(sleep, stallMs);
  }

  /** Runs one boot attempt once fewer than BOOTS_AT_ONCE are in flight. */
  attempt<T>(step: () => Promise<T>): Promise<T> {
    return this.#slots(step);
  }

  /** Agent `name` has booted, or will not: failed or stopped. Saying so twice is harmless. */
  arrive(name: string): void {
    if (this.#waiting.delete(name) && this.#waiting.size === 0) this.#openNow();
  }

  /** Resolves once every agent has arrived, or after a stall; rejects when `signal` aborts first. */
  passed(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    this.#open.promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
    return promise;
  }

  /** How many agents the gate still waits for. */
  get waiting(): number {
    return this.#waiting.size;
  }

  #openNow(): void {
    this.#opened.abort();
    this.#open.resolve();
  }

  async #watchStalls(sleep: Sleep, stallMs: number): Promise<void> {
    // A round that ends with as many still booting as it began with saw no boot finish.
    for (let before = -1; before !== this.#waiting.size;) {
      before = this.#waiting.size;
      try {
        await sleep(stallMs, this.#opened.signal);
      } catch {
        return; // Opened.
      }
    }
    this.#openNow();
  }
}
