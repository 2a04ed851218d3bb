/**
 * Several `inbox` readers in separate processes drain one inbox at once: each
 * message must reach exactly one of them. Offline: the login is stored and the
 * messages are written straight into the data file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeCredentials } from "../../src/credentials.ts";
import { Store } from "../../src/store/store.ts";
import { realSleep } from "../../src/deps.ts";
import { inboxMessage } from "../support/fixtures.ts";
import type { ReaderReport } from "./inbox_worker.ts";

const WORKER = fileURLToPath(new URL("./inbox_worker.ts", import.meta.url));
const READERS = 4;
const MESSAGES = 200;
const TRIALS = 3;
/** Small batches keep every reader coming back to the inbox while the others are in it. */
const BATCH = 5;
const USER = "@reader:hs.test";

async function runReader(env: Record<string, string>, start: number): Promise<ReaderReport> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, `${start}`, `${BATCH}`],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, `reader exited ${code}:\n${decoder.decode(stderr)}`);
  return JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1) ?? "");
}

async function trial(): Promise<{ duplicates: number; missing: number; overlapMs: number }> {
  const dir = await Deno.makeTempDir({ prefix: "cchat-inbox-procs-" });
  try {
    const env = {
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "config"),
      XDG_STATE_HOME: join(dir, "state"),
    };
    await writeCredentials(join(dir, "config", "cchat"), {
      homeserver: "http://127.0.0.1:9",
      userId: USER,
      accessToken: "stored-token",
      deviceId: "DEV",
    });
    const dataDir = join(dir, "state", "cchat");
    await Deno.mkdir(dataDir, { recursive: true });
    const kv = await Deno.openKv(join(dataDir, "cchat.kv"));
    try {
      const store = new Store(kv, { now: Date.now, sleep: realSleep, random: Math.random }, USER);
      const batch = Array.from({ length: MESSAGES }, (_, i) => inboxMessage(i));
      assert.equal(await store.commitBatch(batch, "s1"), MESSAGES);
    } finally {
      kv.close();
    }
    // All readers start at one moment, after their start-up, so their reads contend.
    const start = Date.now() + 1500;
    const reports = await Promise.all(
      Array.from({ length: READERS }, () => runReader(env, start)),
    );
    const counts = new Map<string, number>();
    for (const id of reports.flatMap((r) => r.eventIds)) counts.set(id, (counts.get(id) ?? 0) + 1);
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    const missing = MESSAGES - counts.size;
    const overlapMs = Math.min(...reports.map((r) => r.finishedAt)) -
      Math.max(...reports.map((r) => r.startedAt));
    return { duplicates, missing, overlapMs };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(`${READERS} inbox processes at once hand each of ${MESSAGES} messages to exactly one`, async () => {
  const results = [];
  for (let i = 0; i < TRIALS; i++) results.push(await trial());
  console.log(
    results.map((r, i) =>
      `trial ${i + 1}: ${r.duplicates} duplicates, ${r.missing} missing, overlap ${r.overlapMs} ms`
    ).join("\n"),
  );
  // Readers that never read at the same time would prove nothing.
  assert.ok(results.some((r) => r.overlapMs > 0), "the readers never overlapped");
  assert.deepEqual(results.map((r) => r.duplicates + r.missing), results.map(() => 0));
});
