/**
 * One of the processes of cache_processes_test.ts: hammers a shared KV file
 * through RoomCache, checks its own entries, and prints as JSON its lock
 * retries and the window in which it wrote.
 *
 * Usage: deno run --allow-read --allow-write --unstable-kv cache_worker.ts KVPATH WORKER_ID COUNT START_AT
 */
import { realSleep, type Sleep } from "../../src/deps.ts";
import { openKvWithRetry } from "../../src/store/kv.ts";
import { RoomCache } from "../../src/store/room_cache.ts";

export const NAMESPACE = "https://hs.example|agents";
export const SHARED_NAMES = ["shared-0", "shared-1", "shared-2"];

/** What a worker prints as one JSON line on stdout. */
export interface WorkerReport {
  worker: string;
  lockRetries: number;
  startedAt: number;
  finishedAt: number;
}

export const roomFor = (name: string): string => `!${name}:hs.example`;

async function main([path, worker, countArg, startArg]: string[]): Promise<void> {
  const count = Number(countArg);
  const startAt = Number(startArg);
  if (!path || !worker || !Number.isInteger(count) || count < 1 || !Number.isFinite(startAt)) {
    throw new Error(
      `Bad arguments "${Deno.args.join(" ")}"; expected KVPATH WORKER_ID COUNT START_AT`,
    );
  }
  // Every backoff sleep is one retry of a locked call.
  let lockRetries = 0;
  const sleep: Sleep = (ms, signal) => {
    lockRetries++;
    return realSleep(ms, signal);
  };
  const kv = await openKvWithRetry(Deno.openKv, path, { sleep, random: Math.random });
  try {
    const cache = new RoomCache(kv, { now: Date.now, sleep, random: Math.random }, {
      namespace: NAMESPACE,
    });
    await realSleep(Math.max(0, startAt - Date.now()));
    const startedAt = Date.now();
    for (let i = 0; i < count; i++) {
      const name = `w${worker}-n${i}`;
      await cache.set(name, roomFor(name));
      const shared = SHARED_NAMES[i % SHARED_NAMES.length];
      await cache.set(shared, roomFor(`${shared}-w${worker}-${i}`));
      const back = await cache.get(name);
      if (back?.roomId !== roomFor(name)) {
        throw new Error(`Read back "${JSON.stringify(back)}" for "${name}"`);
      }
    }
    const report: WorkerReport = { worker, lockRetries, startedAt, finishedAt: Date.now() };
    console.log(JSON.stringify(report));
  } finally {
    kv.close();
  }
}

if (import.meta.main) await main(Deno.args);
