/**
 * Whether the process running a user's sync loop still lives, told under
 * cchat's own permissions: that process holds an exclusive lock on a file
 * beside the data, and the system lets go of it when the process ends,
 * however it ends (a clean stop, a crash, kill -9). `/proc`, which would tell
 * the same by the pid, is open to Deno only with --allow-all.
 */
import type { Sleep } from "../deps.ts";
import { sha256Hex } from "../encoding.ts";

/** The lock file of `userId`'s sync loop in `dataDir`; named by a digest, as user ids hold ":". */
export async function lifeLockPath(dataDir: string, userId: string): Promise<string> {
  return `${dataDir}/sync-${(await sha256Hex(userId)).slice(0, 16)}.lock`;
}

export interface LifeLock {
  release(): void;
}

/** Looks a reader's brief shared lock (`lifeLockHeld`) takes to go, before giving up. */
const TAKE_ATTEMPTS = 20;
const TAKE_PAUSE_MS = 50;

/**
 * Takes the lock for this process's life; undefined when another live
 * process still holds it (a hung holder whose lease lapsed), which `status`
 * then counts as alive, as it is.
 */
export async function takeLifeLock(
  path: string,
  sleep: Sleep,
  attempts = TAKE_ATTEMPTS,
): Promise<LifeLock | undefined> {
  const file = await Deno.open(path, { create: true, write: true, mode: 0o600 });
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // Closing the file lets go of the lock.
    if (await file.tryLock(true)) return { release: () => file.close() };
    if (attempt < attempts) await sleep(TAKE_PAUSE_MS);
  }
  file.close();
  return undefined;
}

/** Whether a live process holds the lock; undefined when there is no lock file to ask. */
export async function lifeLockHeld(path: string): Promise<boolean | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    return !await file.tryLock(false);
  } finally {
    file.close();
  }
}
