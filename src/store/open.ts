/**
 * Opening the data file: private to its user, its layout's version checked
 * and brought up to date, and the one record readers need before the store,
 * whose user a token is.
 */
import type { Deps } from "../deps.ts";
import { sha256Hex } from "../encoding.ts";
import { ConfigError } from "../errors.ts";
import { FORMAT_KEY, FORMAT_VERSION, tokenUserKey } from "./keys.ts";
import { commitWithRetry, openKvWithRetry, withLockRetry } from "./kv.ts";

/** The KV file and the journal files SQLite keeps beside it: an agent's messages, all three. */
const KV_FILES = ["cchat.kv", "cchat.kv-wal", "cchat.kv-shm"];

/**
 * Makes the data directory (0700) and its KV files (0600) private, as no other
 * local user may read an agent's messages; returns the KV file's path.
 */
async function privateKvFile(dataDir: string): Promise<string> {
  const path = `${dataDir}/${KV_FILES[0]}`;
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    // The mode above passes through the umask and leaves a directory that already exists alone.
    await Deno.chmod(dataDir, 0o700);
    // SQLite gives its -wal and -shm files the bits of the database file, so that one comes first.
    (await Deno.open(path, { create: true, append: true, mode: 0o600 })).close();
    for (const name of KV_FILES) await chmodIfPresent(`${dataDir}/${name}`, 0o600);
  } catch (err) {
    throw new ConfigError(
      `Cannot use the data directory "${dataDir}": ${(err as Error).message}.`,
      { hint: "Set CCHAT_DATA_DIR, or XDG_STATE_HOME, to a directory of yours.", cause: err },
    );
  }
  return path;
}

async function chmodIfPresent(path: string, mode: number): Promise<void> {
  try {
    await Deno.chmod(path, mode);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Opens the KV file of `dataDir`, made private first, in the layout this cchat reads. */
export async function openDataKv(
  deps: Pick<Deps, "openKv" | "sleep" | "random">,
  dataDir: string,
): Promise<Deno.Kv> {
  const path = await privateKvFile(dataDir);
  const kv = await openKvWithRetry(deps.openKv, path, deps);
  try {
    await settleFormat(kv, path, deps);
  } catch (err) {
    kv.close();
    throw err;
  }
  return kv;
}

/**
 * Brings a file of an older layout up to this one, and refuses a newer one:
 * an older cchat would misread what it does not know. The files written
 * before the layout had a version (1) are laid out as version 2, so stamping
 * them is the whole migration.
 */
async function settleFormat(
  kv: Deno.Kv,
  path: string,
  deps: Pick<Deps, "sleep" | "random">,
): Promise<void> {
  const stamp = await withLockRetry(() => kv.get<number>(FORMAT_KEY), deps);
  if (stamp.value === FORMAT_VERSION) return;
  if (typeof stamp.value === "number" && stamp.value > FORMAT_VERSION) {
    throw new ConfigError(
      `The data file "${path}" was written by a newer cchat (format ${stamp.value}; this one reads ${FORMAT_VERSION}).`,
      { hint: "Upgrade cchat, or give this one a data directory of its own (CCHAT_DATA_DIR)." },
    );
  }
  // Checked: of several processes opening an old file at once, one stamps it.
  await commitWithRetry(
    () => kv.atomic().check(stamp).set(FORMAT_KEY, FORMAT_VERSION),
    deps,
  );
}

/** The user a token belongs to, as an earlier session learned it; undefined when none did. */
export async function knownUserOfToken(
  kv: Deno.Kv,
  deps: Pick<Deps, "sleep" | "random">,
  token: string,
): Promise<string | undefined> {
  const key = tokenUserKey(await sha256Hex(token));
  const known = await withLockRetry(() => kv.get<string>(key), deps);
  return typeof known.value === "string" ? known.value : undefined;
}

/** Keeps whose token this is, under its digest: never the token itself. */
export async function rememberUserOfToken(
  kv: Deno.Kv,
  deps: Pick<Deps, "sleep" | "random">,
  token: string,
  userId: string,
): Promise<void> {
  const key = tokenUserKey(await sha256Hex(token));
  await commitWithRetry(() => kv.atomic().set(key, userId), deps);
}
