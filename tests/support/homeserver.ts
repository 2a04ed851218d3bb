/**
 * The integration tests' homeserver: a real Synapse, started once per test
 * process and reused across runs. A server that cannot start fails the
 * tests loudly; they are never skipped.
 */

import { CchatError } from "../../src/errors.ts";
import {
  cchatCacheDir,
  type Database,
  startHomeserver,
  type StartOptions,
} from "../../harness/homeserver/mod.ts";
import type { TestHomeserver } from "../../harness/users.ts";
import { loadsRegistration, serviceRegistration } from "../../harness/appservice.ts";
import type { Registration } from "../../src/matrix/appservice.ts";

export type TestHomeserverKind = "fast" | "limited" | "publishing" | "appservice";

/**
 * Each kind but the fast one: its port, what its config adds, and the env
 * names (CCHAT_TEST_LIMITED_HOMESERVER, …) that name an external one instead.
 */
const KINDS: Record<
  Exclude<TestHomeserverKind, "fast">,
  { port: number; extraConfig: string | ((dataDir: string) => string) }
> = {
  // Low enough that a test reaches them within a few requests.
  limited: {
    port: 18451,
    extraConfig: [
      "rc_message: {per_second: 1, burst_count: 3}",
      "rc_room_creation: {per_second: 0.5, burst_count: 2}",
      "",
    ].join("\n"),
  },
  // Stock Synapse lets nobody list a room until its operator writes these rules.
  publishing: { port: 18452, extraConfig: "room_list_publication_rules: [{action: allow}]\n" },
  // A fleet's application service: the registration sits in the data dir, which Synapse sees.
  appservice: {
    port: 18453,
    extraConfig: loadsRegistration,
  },
};

/**
 * The agents the test service may act for: a fixed pool, as the homeserver
 * reads the registration only when it starts; the accounts outlive a run.
 */
export const SERVICE_AGENTS = Array.from({ length: 120 }, (_, i) => `as-${i + 1}`);

/** Where the test service listens: one fleet at a time per database. */
const SERVICE_PORT = 18454;

/**
 * The database the test homeservers run on: SQLite unless CCHAT_TEST_DB is
 * "postgres". Each database has data dirs and ports of its own, so both can run.
 */
export function testDatabase(): Database {
  const chosen = Deno.env.get("CCHAT_TEST_DB") || "sqlite";
  if (chosen !== "sqlite" && chosen !== "postgres") {
    throw new Error(`CCHAT_TEST_DB is "${chosen}"; give "sqlite" or "postgres".`);
  }
  return chosen;
}

/** PostgreSQL's servers listen this many ports above SQLite's. */
const POSTGRES_PORT_OFFSET = 20;

/** How `testHomeserver(kind)` starts its server; tests reuse it to reach the same one. */
export function testHomeserverOptions(kind: TestHomeserverKind): StartOptions {
  // A fleet's application service is production's shape: on PostgreSQL, whatever the others use.
  const database = kind === "appservice" ? "postgres" : testDatabase();
  const postgres = database === "postgres";
  const dataDir = `${cchatCacheDir()}/test-homeserver/${kind}${postgres ? "-postgres" : ""}`;
  const offset = postgres ? POSTGRES_PORT_OFFSET : 0;
  if (kind === "fast") return { dataDir, port: 18450 + offset, limits: "off", database };
  const prefix = `CCHAT_TEST_${kind.toUpperCase()}_`;
  const { extraConfig } = KINDS[kind];
  return {
    dataDir,
    limits: "off",
    database,
    extraConfig: typeof extraConfig === "string" ? extraConfig : extraConfig(dataDir),
    port: KINDS[kind].port + offset,
    env: (name) => Deno.env.get(name.replace("CCHAT_TEST_", prefix)),
  };
}

const started = new Map<TestHomeserverKind, Promise<TestHomeserver>>();

/** Starts or reuses the `kind` server once per process. */
export function testHomeserver(kind: TestHomeserverKind = "fast"): Promise<TestHomeserver> {
  let server = started.get(kind);
  if (!server) {
    server = start(kind);
    started.set(kind, server);
  }
  return server;
}

/**
 * The test service's registration, written once into its homeserver's data
 * dir and kept: the homeserver reads it only when it starts.
 */
export function testRegistration(): Promise<Registration> {
  const { dataDir } = testHomeserverOptions("appservice");
  // Every test's alias prefix: see uniquePrefix.
  return serviceRegistration(
    dataDir,
    `http://127.0.0.1:${SERVICE_PORT + POSTGRES_PORT_OFFSET}`,
    SERVICE_AGENTS,
    "t[0-9a-f]{8}",
  );
}

async function start(kind: TestHomeserverKind): Promise<TestHomeserver> {
  try {
    if (kind === "appservice") await testRegistration();
    const { baseUrl, serverName, registrationSecret } = await startHomeserver(
      testHomeserverOptions(kind),
    );
    return { baseUrl, serverName, registrationSecret };
  } catch (e) {
    const hint = e instanceof CchatError && e.hint ? `\n${e.hint}` : "";
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(`The "${kind}" test homeserver could not start: ${reason}${hint}`, {
      cause: e,
    });
  }
}
