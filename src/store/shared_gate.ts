/**
 * The rate gate of one access token, shared by every process of that account
 * through the KV file they already share. After a 429, a process queues
 * behind the others for a slot instead of spending an attempt, so a burst of
 * `cchat send` processes becomes one paced queue, as it does inside a process.
 */
import type { Sleep } from "../deps.ts";
import { sha256Hex } from "../encoding.ts";
import { commitWithRetry, withLockRetry } from "./kv.ts";
import { rateGateKey } from "./keys.ts";
import type { SharedGate } from "../matrix/rate_gate.ts";

export interface SharedGateDeps {
  now: () => number;
  sleep: Sleep;
  random: () => number;
}

/** What the processes agree on; all three are wall-clock milliseconds but `spacing`. */
interface Hold {
  /** No request before this: the latest time the server asked for. */
  holdUntil: number;
  /** The shortest wait the server asked for in this episode: the pace of the queue. */
  spacing: number;
  /** The next free slot in the queue. */
  releaseAt: number;
}

/** A record a little past its last slot is stale: the queue has drained and the gate is open. */
const EXPIRY_MARGIN_MS = 60_000;

function parseHold(value: unknown): Hold | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { holdUntil, spacing, releaseAt } = value as Record<string, unknown>;
  return [holdUntil, spacing, releaseAt].every((n) => typeof n === "number" && Number.isFinite(n))
    ? { holdUntil, spacing, releaseAt } as Hold
    : undefined;
}

/** The shared gate for `accessToken`, keyed by a digest: the token itself never reaches the file. */
export function kvSharedGate(kv: Deno.Kv, deps: SharedGateDeps, accessToken: string): SharedGate {
  const key = sha256Hex(accessToken).then(rateGateKey);
  const read = async () => {
    const k = await key;
    const entry = await withLockRetry(() => kv.get(k), deps);
    return { k, entry, hold: parseHold(entry.value) };
  };
  const write = (k: Deno.KvKey, entry: Deno.KvEntryMaybe<unknown>, hold: Hold) =>
    commitWithRetry(
      () =>
        kv.atomic().check(entry).set(k, hold, {
          expireIn: Math.max(0, hold.releaseAt - deps.now()) + EXPIRY_MARGIN_MS,
        }),
      deps,
    );

  return {
    async enter(maxWaitMs, signal) {
      for (;;) {
        const { k, entry, hold } = await read();
        const now = deps.now();
        // Nobody queued and no hold: requests that follow one another are never paced.
        if (!hold || Math.max(hold.holdUntil, hold.releaseAt) <= now) return 0;
        const slot = Math.max(now, hold.holdUntil, hold.releaseAt);
        if (slot - now > maxWaitMs) return slot - now;
        const reserved = await write(k, entry, { ...hold, releaseAt: slot + hold.spacing });
        // Another process took that slot first: read the queue again.
        if (!reserved.ok) continue;
        if (slot > now) await deps.sleep(slot - now, signal);
        // A refusal while we slept moved the hold past our slot: queue again behind it.
        const after = (await read()).hold;
        if (!after || after.holdUntil <= slot) return 0;
      }
    },
    async refused(waitMs) {
      for (;;) {
        const { k, entry, hold } = await read();
        const now = deps.now();
        const until = now + waitMs;
        const ongoing = hold && Math.max(hold.holdUntil, hold.releaseAt) > now;
        const next: Hold = ongoing
          ? {
            holdUntil: Math.max(hold.holdUntil, until),
            spacing: Math.min(hold.spacing, waitMs),
            releaseAt: Math.max(hold.releaseAt, until),
          }
          : { holdUntil: until, spacing: waitMs, releaseAt: until };
        if ((await write(k, entry, next)).ok) return;
      }
    },
  };
}
