/**
 * The integration tests' homeserver: a real Synapse, started once per test
 * process and reused across runs. A server that cannot start fails the
 * tests loudly; they are never skipped.
 */

import { CchatError } from "../../src/errors.ts";
import { cchatCacheDir, startHomeserver, type StartOptions } from "../../harness/homeserver/mod.ts";
import type { TestHomeserver } from "../../harness/users.ts";

export type TestHomeserverKind = "fast" | "limited";

/** The limited server's env names stand in for the ones `startHomeserver` reads. */
const LIMITED_ENV: Record<string, string> = {
  CCHAT_TEST_HOMESERVER: "CCHAT_TEST_LIMITED_HOMESERVER",
  CCHAT_TEST_REGISTRATION_SECRET: "CCHAT_TEST_LIMITED_REGISTRATION_SECRET",
};

/** Low enough that a test reaches them within a few requests. */
const LOW_LIMITS = [
  "rc_message: {per_second: 1, burst_count: 3}",
  "rc_room_creation: {per_second: 0.5, burst_count: 2}",
  "",
].join("\n");

/** How `testHomeserver(kind)` starts its server; tests reuse it to reach the same one. */
export function testHomeserverOptions(kind: TestHomeserverKind): StartOptions {
  const dataDir = `${cchatCacheDir()}/test-homeserver/${kind}`;
  return kind === "fast" ? { dataDir, port: 18450, limits: "off" } : {
    dataDir,
    port: 18451,
    limits: "off",
    extraConfig: LOW_LIMITS,
    env: (name) => Deno.env.get(LIMITED_ENV[name] ?? name),
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

async function start(kind: TestHomeserverKind): Promise<TestHomeserver> {
  try {
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
