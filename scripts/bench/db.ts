/**
 * What each of Synapse's databases carries on this machine: state writes a
 * second (the kind a heartbeat is) from many accounts at once, each into a
 * room of its own, against a Synapse on SQLite and one on PostgreSQL, started
 * side by side with the same configuration and measured in turn, twice each.
 */
import { realSleep } from "../../src/deps.ts";
import { cchatCacheDir, type Database, startHomeserver } from "../../harness/homeserver/mod.ts";
import { clientFor } from "../../harness/matrix.ts";
import { freshUser } from "../../harness/users.ts";
import type { Row, Section } from "./report.ts";

/** Writers at once: the state writes of 400 agents beating every 10 s would be 40 a second. */
const WRITERS = 40;
const SECONDS = 10;
const PORTS: Record<Database, number> = { sqlite: 18463, postgres: 18464 };

export const run: Section = async (context) => {
  const rates: Record<Database, number[]> = { sqlite: [], postgres: [] };
  const servers = await Promise.all((["sqlite", "postgres"] as const).map(async (database) => {
    const hs = await startHomeserver({
      dataDir: `${cchatCacheDir()}/bench-homeserver/db-${database}`,
      port: PORTS[database],
      limits: "off",
      database,
    });
    const writers = await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        const client = clientFor(hs, await freshUser(hs, "dbw"));
        return { client, roomId: await client.createRoom({ preset: "private_chat" }) };
      }),
    );
    return { database, writers };
  }));
  for (let round = 0; round < 2; round++) {
    for (const { database, writers } of servers) {
      context.note(`db: ${WRITERS} writers for ${SECONDS} s on ${database}`);
      rates[database].push(await writeRate(writers));
      await realSleep(1_000);
    }
  }
  const best = (database: Database) => Math.max(...rates[database]);
  const row = (metric: string, value: string, extra: Partial<Row> = {}): Row => ({
    section: "db",
    metric,
    value,
    ...extra,
  });
  return [
    row(`state writes/s, ${WRITERS} accounts at once, SQLite`, `${best("sqlite").toFixed(1)}`, {
      data: { rates: rates.sqlite },
    }),
    row(
      `state writes/s, ${WRITERS} accounts at once, PostgreSQL`,
      `${best("postgres").toFixed(1)}`,
      {
        data: { rates: rates.postgres },
      },
    ),
    row("PostgreSQL/SQLite", `${(best("postgres") / best("sqlite")).toFixed(2)}×`),
  ];
};

/** State writes that complete in SECONDS, each writer writing again as soon as its last landed. */
async function writeRate(
  writers: { client: ReturnType<typeof clientFor>; roomId: string }[],
): Promise<number> {
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(writers.map(async ({ client, roomId }, i) => {
    for (let seq = 0; performance.now() < until; seq++) {
      await client.putState(roomId, "dev.cchat.bench", `w${i}`, { seq, at: Date.now() });
      done++;
    }
  }));
  return done / SECONDS;
}
