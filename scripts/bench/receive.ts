/**
 * Figure 2: from a human's send returning to the message in the agent's
 * inbox, against the floor, a raw long-poll /sync in this process that
 * follows `since` with no filter.
 */
import { realSleep } from "../../src/deps.ts";
import { Store } from "../../src/store/store.ts";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import { agentCli, eventually } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { clientFor, realTime } from "../../harness/matrix.ts";
import { type SyncFloor, syncFloor } from "./floor.ts";
import type { Row, Section } from "./report.ts";
import { ms, ratio, spread, summarize, type Summary } from "./stats.ts";

const TARGET_RATIO = 1.5;
/** Apart enough that every message is its own sync on both sides. */
const SPACING_MS = 300;
const POLL_MS = 2;
/** Messages sent but not counted, as `alternate` does, while connections warm up. */
const WARMUP = 2;
const ARRIVAL_TIMEOUT_MS = 10_000;

export const run: Section = async (context) => {
  const prefix = uniquePrefix();
  const user = await freshUser(context, "benchrecv");
  // cchat's default beat interval: the agent's own beats would otherwise wake its sync every second.
  await using agent = await agentCli(context, user, "a", { prefix, interval: 60, syncTimeout: 30 });
  const kvPath = `${agent.env.XDG_STATE_HOME}/cchat/cchat.kv`;
  context.note("receive: booting A's daemon");
  const daemon = agent.daemon();
  let floor: SyncFloor | undefined;
  let kv: Deno.Kv | undefined;
  let scratchKv: Deno.Kv | undefined;
  try {
    // The daemon makes the directory; opening the file before that would fail.
    await eventually(
      "the daemon's data file",
      () => Deno.stat(kvPath).then(() => true, () => undefined),
    );
    kv = await Deno.openKv(kvPath);
    const store = new Store(kv, realTime, user.userId);
    const records = new DaemonRecords(kv, realTime, user.userId);
    // The daemon's KV write, repeated on a file of its own, to tell its cost apart from the sync.
    scratchKv = await Deno.openKv(`${agent.env.XDG_STATE_HOME}/scratch.kv`);
    const scratch = new Store(scratchKv, realTime, user.userId);
    const place = await eventually("the daemon's first sync", async () => {
      const status = await records.status();
      return status?.state === "running" && status.roomId && status.spaceId
        ? { roomId: status.roomId, spaceId: status.spaceId }
        : undefined;
    });

    const human = await freshUser(context, "benchhuman");
    const watcher = await freshUser(context, "benchfloor");
    for (const member of [human, watcher]) {
      // The agent's room is restricted to Space members.
      const client = clientFor(context, member);
      await client.join(place.spaceId, [context.serverName]);
      await client.join(place.roomId, [context.serverName]);
    }
    const sender = clientFor(context, human);

    // The floor: when each event id first shows up in the watcher's raw /sync.
    const raw = floor = await syncFloor(context.baseUrl, watcher.accessToken);
    const { seen } = raw;

    // What one look into the Store costs: the daemon's figure can be late by that plus the poll.
    const storeReads: number[] = [];
    /** Waits for both sides to have the event; the daemon's side is its Store, read every 2 ms. */
    const arrivals = async (eventId: string): Promise<{ daemon: number; floor: number }> => {
      const deadline = performance.now() + ARRIVAL_TIMEOUT_MS;
      let daemonAt: number | undefined;
      for (;;) {
        if (raw.failure()) throw raw.failure();
        if (daemonAt === undefined) {
          const started = performance.now();
          const unread = await store.unread();
          const now = performance.now();
          storeReads.push(now - started);
          if (unread.some((m) => m.eventId === eventId)) daemonAt = now;
        }
        const floorAt = seen.get(eventId);
        if (daemonAt !== undefined && floorAt !== undefined) {
          return { daemon: daemonAt, floor: floorAt };
        }
        if (performance.now() > deadline) {
          const missing = [
            daemonAt === undefined && "the daemon's store",
            floorAt === undefined && "the raw sync",
          ]
            .filter(Boolean).join(" and ");
          throw new Error(`${eventId} was not in ${missing} after ${ARRIVAL_TIMEOUT_MS} ms.`);
        }
        await realSleep(POLL_MS);
      }
    };

    context.note(`receive: ${context.samples} messages, ${SPACING_MS} ms apart`);
    const daemonMs: number[] = [];
    const floorMs: number[] = [];
    const kvWrites: number[] = [];
    const committedMs: number[] = [];
    for (let i = 0; i < WARMUP + context.samples; i++) {
      const eventId = await sender.sendText(place.roomId, { body: `bench receive ${i}` });
      const sent = performance.now();
      const at = await arrivals(eventId);
      // The daemon stamps its status (whole ms, same system clock) right after the commit,
      // possibly a moment after the message shows.
      const sentAt = performance.timeOrigin + sent;
      const committedAt = await eventually("the daemon's status after the commit", async () => {
        const last = (await records.status())?.lastSyncAt;
        return last != null && last >= Math.floor(sentAt) ? last : undefined;
      });
      // Read it as an agent would, so the next look into the Store finds one message, not all.
      const inbox = await store.unread();
      await store.markRead(inbox);
      const started = performance.now();
      await scratch.commitBatch(inbox, `bench-${i}`);
      if (i >= WARMUP) {
        daemonMs.push(at.daemon - sent);
        floorMs.push(at.floor - sent);
        committedMs.push(committedAt - sentAt);
        kvWrites.push(performance.now() - started);
      }
      await realSleep(SPACING_MS);
    }
    return rows({
      daemon: summarize(daemonMs),
      committed: summarize(committedMs),
      floor: summarize(floorMs),
      kvWrite: summarize(kvWrites),
      storeRead: summarize(storeReads),
    });
  } finally {
    await floor?.[Symbol.asyncDispose]();
    kv?.close();
    scratchKv?.close();
    const stopped = await daemon.stop();
    if (stopped.code !== 0) {
      context.note(`receive: the daemon exited ${stopped.code}: ${stopped.stderr.trim()}`);
    }
  }
};

function rows(
  s: Record<"daemon" | "committed" | "floor" | "kvWrite" | "storeRead", Summary>,
): Row[] {
  const vsFloor = s.daemon.median / s.floor.median;
  const met = vsFloor <= TARGET_RATIO;
  const why = `by its own clock the daemon has committed at p50 ${ms(s.committed.median)}, ${
    ms(s.committed.median - s.floor.median)
  } after the floor saw it (a KV write of a batch, repeated on a scratch file, takes ${
    ms(s.kvWrite.median)
  }); the other ${
    ms(s.daemon.median - s.committed.median)
  } is this bench noticing: a ${POLL_MS} ms poll plus a Store read of ${ms(s.storeRead.median)}`;
  return [
    {
      section: "receive",
      metric: "cchat daemon: send returned → in the inbox",
      value: spread(s.daemon),
      data: {
        ...s.daemon,
        includes: `the daemon's KV write, and polling its Store every ${POLL_MS} ms`,
        kvWrite: s.kvWrite,
        storeRead: s.storeRead,
      },
    },
    {
      section: "receive",
      metric: "cchat daemon by its own clock: send returned → committed",
      value: spread(s.committed),
      data: { ...s.committed, resolution: "whole milliseconds, the daemon's status stamp" },
    },
    {
      section: "receive",
      metric: "raw /sync, the floor: send returned → seen",
      value: spread(s.floor),
      data: { ...s.floor },
    },
    {
      section: "receive",
      metric: "daemon/floor at p50",
      value: ratio(s.daemon.median, s.floor.median),
      target: `≤ ${TARGET_RATIO}×`,
      met,
      data: { ratio: vsFloor, ...(met ? {} : { why }) },
    },
  ];
}
