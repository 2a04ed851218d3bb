import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RoomCache } from "../../src/store/room_cache.ts";
import { realSleep } from "../../src/deps.ts";
import { NAMESPACE, roomFor, SHARED_NAMES, type WorkerReport } from "./room_cache_worker.ts";

const WORKER = fileURLToPath(new URL("./room_cache_worker.ts", import.meta.url));
const WORKERS = ["1", "2"];
/** Enough writes that the two processes overlap for a good while, yet done in about a second. */
const COUNT = 500;

interface Finished {
  worker: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** Both workers start writing at this moment, after their start-up, so their writes always contend. */
const startAt = () => Date.now() + 1500;

async function runWorker(kvPath: string, worker: string, start: number): Promise<Finished> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--unstable-kv",
      WORKER,
      kvPath,
      worker,
      `${COUNT}`,
      `${start}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { worker, code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

function parseReport(stdout: string): WorkerReport {
  const report: Partial<WorkerReport> = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  assert.equal(typeof report.lockRetries, "number", `unreadable report "${stdout}"`);
  assert.equal(typeof report.startedAt, "number", `unreadable report "${stdout}"`);
  assert.equal(typeof report.finishedAt, "number", `unreadable report "${stdout}"`);
  return report as WorkerReport;
}

Deno.test("two processes share one RoomCache file without losing or corrupting entries", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-cache-procs-" });
  try {
    const kvPath = join(dir, "cache.sqlite3");
    const started = performance.now();
    const start = startAt();
    const finished = await Promise.all(WORKERS.map((worker) => runWorker(kvPath, worker, start)));
    const wallMs = Math.round(performance.now() - started);

    for (const { worker, code, stderr } of finished) {
      assert.equal(code, 0, `worker "${worker}" exited ${code}:\n${stderr}`);
    }
    const reports = finished.map(({ stdout }) => parseReport(stdout));
    const overlapMs = Math.min(...reports.map((r) => r.finishedAt)) -
      Math.max(...reports.map((r) => r.startedAt));
    console.log(
      `two workers x ${COUNT} names: ${wallMs} ms wall, writes overlapped ${overlapMs} ms, ` +
        `lock retries ${reports.map((r) => `w${r.worker}=${r.lockRetries}`).join(" ")}`,
    );
    // Without overlapping writes the test would prove nothing about contention.
    assert.ok(overlapMs > 0, `the workers never wrote at the same time (${overlapMs} ms)`);

    const kv = await Deno.openKv(kvPath);
    try {
      const deps = { now: Date.now, sleep: realSleep, random: Math.random };
      const cache = new RoomCache(kv, deps, { namespace: NAMESPACE });
      const lost: string[] = [];
      for (const worker of WORKERS) {
        for (let i = 0; i < COUNT; i++) {
          const name = `w${worker}-n${i}`;
          const entry = await cache.get(name);
          if (entry?.roomId !== roomFor(name)) lost.push(name);
        }
      }
      assert.deepEqual(lost, [], `${lost.length} entries lost or wrong`);

      for (const shared of SHARED_NAMES) {
        // The survivor of the overwrites must be one of the rooms written under this name.
        const written = WORKERS.flatMap((worker) =>
          Array.from({ length: COUNT }, (_, i) => i)
            .filter((i) => SHARED_NAMES[i % SHARED_NAMES.length] === shared)
            .map((i) => roomFor(`${shared}-w${worker}-${i}`))
        );
        const entry = await cache.get(shared);
        assert.ok(entry, `shared name "${shared}" is missing or malformed`);
        assert.ok(written.includes(entry.roomId), `"${shared}" holds "${entry.roomId}"`);
      }
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
