/**
 * One of the readers of inbox_processes_test.ts: drains the inbox through the
 * `inbox` operation, a few messages at a time, as `cchat inbox --limit` would,
 * and prints as one JSON line the event ids it was handed.
 *
 * Usage: deno run -A inbox_worker.ts START_AT BATCH (XDG_* in the environment)
 */
import { realDeps, realSleep } from "../../src/deps.ts";
import { silentLogger } from "../../src/log.ts";
import { inbox } from "../../src/ops/inbox.ts";

/** What a worker prints. */
export interface ReaderReport {
  eventIds: string[];
  startedAt: number;
  finishedAt: number;
}

async function main([startArg, batchArg]: string[]): Promise<void> {
  const startAt = Number(startArg);
  const batch = Number(batchArg);
  if (!Number.isFinite(startAt) || !Number.isInteger(batch) || batch < 1) {
    throw new Error(`Bad arguments "${Deno.args.join(" ")}"; expected START_AT BATCH`);
  }
  const ctx = { deps: realDeps(), log: silentLogger };
  await realSleep(Math.max(0, startAt - Date.now()));
  const startedAt = Date.now();
  const eventIds: string[] = [];
  for (;;) {
    const { value: messages, settle } = await inbox(ctx, { limit: batch });
    await settle(true);
    if (messages.length === 0) break;
    eventIds.push(...messages.map((m) => m.event_id));
  }
  const report: ReaderReport = { eventIds, startedAt, finishedAt: Date.now() };
  console.log(JSON.stringify(report));
}

if (import.meta.main) await main(Deno.args);
