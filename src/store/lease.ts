/**
 * One holder at a time for a job of one user, such as the sync loop: a record
 * in Deno KV that its holder renews and that lapses when the holder stops
 * renewing it. Any process can take a lapsed lease, or one whose holder's pid
 * is gone from this host, so a crashed daemon (or MCP server) never blocks the
 * next one for long. Readers trust the record's `expiresAt`, never KV's own
 * expiry, which deletes lazily.
 */
import type { Deps } from "../deps.ts";
import { CchatError, ExitCode } from "../errors.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";

/** A crashed holder loses the lease this long after its last renewal. */
export const LEASE_TTL_MS = 10_000;
/** Three renewals fit in one TTL, so one late renewal never loses a live holder its lease. */
export const LEASE_RENEW_MS = 3_000;
/** How late a renewal may be before a starter stops counting on seeing it. */
const RENEW_SLACK_MS = 1_000;
/**
 * How often a process standing by looks whether the holder is gone: a holder
 * on this host that died is seen at the next look, one elsewhere when its
 * lease lapses.
 */
export const STANDBY_POLL_MS = 1_000;

export interface LeaseHolder {
  pid: number;
  host: string;
  /** When this holder took the lease, by its clock; with pid and host it tells holders apart. */
  since: number;
  /** The lease lapses at this time unless renewed. */
  expiresAt: number;
}

export type LeaseDeps = Pick<Deps, "now" | "sleep" | "random" | "processAlive" | "hostname">;

/** Another process holds the lease: say who, so the user can find it. */
export class LeaseHeldError extends CchatError {
  readonly holder: LeaseHolder;

  constructor(job: string, holder: LeaseHolder) {
    const since = new Date(holder.since).toISOString();
    super(
      `Another process holds the ${job} of this agent: pid ${holder.pid} on ${holder.host}, since ${since}.`,
      {
        hint:
          `Only one ${job} may run per account; stop pid ${holder.pid}, or use it ("cchat status" shows it).`,
        exitCode: ExitCode.busy,
      },
    );
    this.holder = holder;
  }
}

/** This process's sync loop was taken over: it stops, and the agent lives on in the other one. */
export class SyncLoopTakenError extends CchatError {
  constructor(message: string, hint: string) {
    super(message, { hint, exitCode: ExitCode.busy });
  }
}

/**
 * Taken over through this data file's lease, by a process that renewed in
 * time while this one did not: a process standing by may take it back later.
 */
export class LeaseLostError extends SyncLoopTakenError {}

/** Whether `holder` still counts: renewed in time, and its process not known to be gone. */
export function isLive(
  holder: LeaseHolder,
  deps: Pick<LeaseDeps, "now" | "processAlive" | "hostname">,
) {
  if (holder.expiresAt <= deps.now()) return false;
  return holder.host !== deps.hostname() || deps.processAlive(holder.pid);
}

const sameHolder = (a: LeaseHolder, b: LeaseHolder) =>
  a.pid === b.pid && a.host === b.host && a.since === b.since;

export class Lease {
  readonly #kv: Deno.Kv;
  readonly #key: Deno.KvKey;
  readonly #job: string;
  readonly #deps: LeaseDeps;
  #mine: LeaseHolder | null = null;

  /** `job` names what the lease guards, in messages ("sync loop"). */
  constructor(kv: Deno.Kv, key: Deno.KvKey, job: string, deps: LeaseDeps) {
    this.#kv = kv;
    this.#key = key;
    this.#job = job;
    this.#deps = deps;
  }

  #read() {
    return withLockRetry(() => this.#kv.get<LeaseHolder>(this.#key), this.#deps);
  }

  /** The live holder, if any. */
  async holder(): Promise<LeaseHolder | undefined> {
    const { value } = await this.#read();
    return value && isLive(value, this.#deps) ? value : undefined;
  }

  /**
   * Takes the lease for `pid`, or throws LeaseHeldError once its holder is
   * seen renewing it. A holder whose process cannot be checked and that does
   * not renew may have crashed: the starter waits for its lease to lapse (one
   * TTL at most) rather than fail a restart. The write checks that the record
   * is still the one read, so of two processes starting at once one wins.
   * `signal` ends that wait, rejecting with its reason.
   *
   * With `standBy`, a live holder is no failure: it is told once, and the
   * starter waits for that holder to stop or die, then takes the lease over.
   *
   * `holderGone` may tell sooner than the lapse that a holder on this host
   * has died (its life lock, which the system let go of): its lease is then
   * taken at once.
   */
  async acquire(
    pid: number,
    signal?: AbortSignal,
    standBy?: (holder: LeaseHolder) => void,
    holderGone?: () => Promise<boolean>,
  ): Promise<LeaseHolder> {
    let seen: LeaseHolder | undefined;
    let told = false;
    for (;;) {
      const entry = await this.#read();
      const current = entry.value;
      // A record with our own pid on this host is a previous life of this pid (a container's pid 1).
      const ours = current?.pid === pid && current.host === this.#deps.hostname();
      const gone = async (holder: LeaseHolder) =>
        holder.host === this.#deps.hostname() && await holderGone?.() === true;
      if (current && !ours && isLive(current, this.#deps) && !await gone(current)) {
        const renewing = seen !== undefined && current.expiresAt !== seen.expiresAt;
        if (renewing && !standBy) throw new LeaseHeldError(this.#job, current);
        if (renewing && !told) {
          told = true;
          standBy!(current);
        }
        seen ??= current;
        const untilLapse = current.expiresAt - this.#deps.now();
        const look = standBy ? STANDBY_POLL_MS : LEASE_RENEW_MS + RENEW_SLACK_MS;
        await this.#deps.sleep(Math.min(untilLapse, look), signal);
        continue;
      }
      const now = this.#deps.now();
      const mine = { pid, host: this.#deps.hostname(), since: now, expiresAt: now + LEASE_TTL_MS };
      const result = await commitWithRetry(
        () => this.#kv.atomic().check(entry).set(this.#key, mine),
        this.#deps,
      );
      if (result.ok) return this.#mine = mine;
      // Someone wrote in between: look again at who holds it now.
    }
  }

  /** Pushes the expiry on; false when the lease was lost meanwhile (taken over after a lapse). */
  async renew(): Promise<boolean> {
    const mine = this.#mine;
    if (!mine) return false;
    const entry = await this.#read();
    if (!entry.value || !sameHolder(entry.value, mine)) {
      this.#mine = null;
      return false;
    }
    const renewed = { ...mine, expiresAt: this.#deps.now() + LEASE_TTL_MS };
    const result = await commitWithRetry(
      () => this.#kv.atomic().check(entry).set(this.#key, renewed),
      this.#deps,
    );
    if (!result.ok) return await this.renew();
    this.#mine = renewed;
    return true;
  }

  /** Gives the lease up at once, if it is still ours, so the next holder need not wait. */
  async release(): Promise<void> {
    const mine = this.#mine;
    this.#mine = null;
    if (!mine) return;
    const entry = await this.#read();
    if (!entry.value || !sameHolder(entry.value, mine)) return;
    await commitWithRetry(() => this.#kv.atomic().check(entry).delete(this.#key), this.#deps);
  }
}
