/**
 * Deno KV calls that ride out another process holding the SQLite file:
 * several agents on one machine share the data file, and a write there can
 * fail with "database is locked" for the few milliseconds the other one writes.
 */
import type { Sleep } from "../deps.ts";
import { CchatError, ConfigError } from "../errors.ts";
import { backoffMs } from "../backoff.ts";

export interface LockRetryDeps {
  sleep: Sleep;
  /** Uniform in [0, 1). */
  random: () => number;
}

export const LOCK_RETRY_ATTEMPTS = 8;
/** Waits of 5–10, 10–20, then 20–40 ms: a writer holds the lock only briefly. */
const LOCK_BACKOFF_BASE_MS = 10;
const LOCK_BACKOFF_MAX_STEP = 3;

function isLockError(err: unknown): boolean {
  return err instanceof Error && /database is locked|\bbusy\b/i.test(err.message);
}

/** Runs `op`, retrying only throws that say the data file is locked. */
export async function withLockRetry<T>(
  op: () => Promise<T>,
  deps: LockRetryDeps,
  attempts = LOCK_RETRY_ATTEMPTS,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      const step = Math.min(attempt - 1, LOCK_BACKOFF_MAX_STEP);
      await deps.sleep(backoffMs(step, deps.random, LOCK_BACKOFF_BASE_MS));
    }
    try {
      return await op();
    } catch (err) {
      if (!isLockError(err)) throw err;
      lastError = err;
    }
  }
  throw new CchatError(`The data file stayed locked after "${attempts}" attempts`, {
    hint: "Another cchat process is writing to it; retry in a moment, or stop stuck processes.",
    cause: lastError,
  });
}

/**
 * Commits a fresh atomic operation per attempt: `makeAtomic` is called again
 * on each retry because an operation must not be committed twice.
 */
export function commitWithRetry(
  makeAtomic: () => Deno.AtomicOperation,
  deps: LockRetryDeps,
  attempts = LOCK_RETRY_ATTEMPTS,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  return withLockRetry(() => makeAtomic().commit(), deps, attempts);
}

/**
 * Opens a KV file; two processes creating the same new file at once can
 * briefly lock each other out. A file that is no database (a disk fault, a
 * stray write) is named, with the way out.
 */
export async function openKvWithRetry(
  open: (path: string) => Promise<Deno.Kv>,
  path: string,
  deps: LockRetryDeps,
): Promise<Deno.Kv> {
  try {
    return await withLockRetry(() => open(path), deps);
  } catch (err) {
    if (!(err instanceof Error && /not a database|malformed|corrupt/i.test(err.message))) throw err;
    throw new ConfigError(`The data file "${path}" is damaged: ${err.message}.`, {
      hint:
        `Move it aside ("mv ${path} ${path}.damaged") and start the daemon again: it begins a new inbox, and the unread messages in the damaged file are lost.`,
      cause: err,
    });
  }
}
