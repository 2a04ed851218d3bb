/** A KV file of its own and a clock that never waits, for the tests of what sits on Deno KV. */
import { join } from "node:path";

export const START = 1_700_000_000_000;

/** A fake clock and a sleep that records its waits and returns at once. */
export function fakeTime() {
  const sleeps: number[] = [];
  const deps = {
    time: START,
    now: () => deps.time,
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
  };
  return { deps, sleeps };
}

/** Runs `body` against a KV file in a fresh temp dir, closed and removed afterwards. */
export async function withKv(body: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cchat-cache-" });
  const kv = await Deno.openKv(join(dir, "cache.sqlite3"));
  try {
    await body(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}
