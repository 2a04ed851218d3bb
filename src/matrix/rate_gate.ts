import type { Sleep } from "../deps.ts";

export interface GateClock {
  now: () => number;
  sleep: Sleep;
}

/**
 * Shares what one 429 taught with every request on the same access token.
 *
 * After the server refuses, every request is held until the latest time the
 * server asked for, then released one per `spacing`, so a burst of concurrent
 * calls becomes a queue instead of a storm of doomed attempts. The spacing is
 * the shortest wait seen in this episode: one slow limiter (room creation)
 * must not halve the pace of every send. A wait in this queue is not an
 * attempt. Once a request succeeds with nobody queued behind it, the gate
 * opens fully again, so requests made one after another are never paced.
 */
export class RateGate {
  #holdUntil = 0;
  #releaseAt = 0;
  #spacing = 0;
  #waiting = 0;
  #reschedule = new AbortController();

  constructor(private readonly clock: GateClock) {}

  /**
   * Waits for this request's turn. Returns 0 once it may go, or, without
   * waiting, the time it would have to wait when that exceeds `maxWaitMs`.
   */
  async enter(maxWaitMs: number, signal?: AbortSignal): Promise<number> {
    for (;;) {
      // An open gate never holds, so a wall clock stepping back cannot stall requests.
      if (this.#spacing === 0) return 0;
      const now = this.clock.now();
      const slot = Math.max(now, this.#releaseAt);
      if (slot - now > maxWaitMs) return slot - now;
      this.#releaseAt = slot + this.#spacing;
      if (slot === now) return 0;
      const reschedule = this.#reschedule.signal;
      this.#waiting++;
      try {
        await this.clock.sleep(
          slot - now,
          signal ? AbortSignal.any([signal, reschedule]) : reschedule,
        );
        return 0;
      } catch (err) {
        // A newer refusal moved the hold: queue again, in the same order.
        if (signal?.aborted || !reschedule.aborted) throw err;
      } finally {
        this.#waiting--;
      }
    }
  }

  /** The server refused a request and asked for `waitMs`. */
  refused(waitMs: number): void {
    this.#spacing = this.#spacing === 0 ? waitMs : Math.min(this.#spacing, waitMs);
    this.#holdUntil = Math.max(this.#holdUntil, this.clock.now() + waitMs);
    this.#releaseAt = this.#holdUntil;
    this.#reschedule.abort();
    this.#reschedule = new AbortController();
  }

  /** A request went through. */
  passed(): void {
    // Requests that follow one another (pages of a listing) do not compete: only a queue is paced.
    if (this.#waiting === 0) {
      this.#spacing = 0;
      this.#holdUntil = 0;
      this.#releaseAt = 0;
    }
  }
}

/**
 * The same queue kept outside the process, for every process on one access
 * token: what a 429 taught one of them holds the others too.
 */
export interface SharedGate {
  /** As `RateGate.enter`, across processes. */
  enter(maxWaitMs: number, signal?: AbortSignal): Promise<number>;
  refused(waitMs: number): Promise<void>;
}

/** What a request goes through: this process's gate, then the shared one when there is one. */
export interface Gate {
  enter(maxWaitMs: number, signal?: AbortSignal): Promise<number>;
  refused(waitMs: number): Promise<void>;
  passed(): void;
}

/** One gate per access token, for every client in this process that uses it. */
export class RateGates {
  #gates = new Map<string, Gate>();

  constructor(
    private readonly clock: GateClock,
    /** Where the processes of one token meet, when they have somewhere to. */
    private readonly shared?: (accessToken: string) => SharedGate,
  ) {}

  for(accessToken: string): Gate {
    let gate = this.#gates.get(accessToken);
    if (!gate) {
      const local = new RateGate(this.clock);
      const shared = this.shared?.(accessToken);
      gate = {
        async enter(maxWaitMs, signal) {
          const queued = await local.enter(maxWaitMs, signal);
          return queued > 0 || !shared ? queued : await shared.enter(maxWaitMs, signal);
        },
        async refused(waitMs) {
          local.refused(waitMs);
          await shared?.refused(waitMs);
        },
        passed: () => local.passed(),
      };
      this.#gates.set(accessToken, gate);
    }
    return gate;
  }
}
