/** Route (a): a homeserver someone else runs, named in the environment, and the probes it needs. */

import { CchatError, ExitCode, UsageError } from "../../src/errors.ts";
import type { Env, Homeserver } from "./mod.ts";

/** The server CCHAT_TEST_HOMESERVER names, or undefined when the env names none. */
export async function externalHomeserver(env: Env): Promise<Homeserver | undefined> {
  const baseUrl = env("CCHAT_TEST_HOMESERVER")?.replace(/\/+$/, "");
  const registrationSecret = env("CCHAT_TEST_REGISTRATION_SECRET");
  if (!baseUrl && !registrationSecret) return undefined;
  if (!baseUrl || !registrationSecret) {
    throw new UsageError(
      "CCHAT_TEST_HOMESERVER and CCHAT_TEST_REGISTRATION_SECRET must be set together.",
      { hint: "Set both to use a running homeserver, or neither to start a local one." },
    );
  }
  if (!await answers(baseUrl)) {
    throw new CchatError(
      `The homeserver "${baseUrl}" from CCHAT_TEST_HOMESERVER does not answer.`,
      {
        hint: "Check that it runs, or unset CCHAT_TEST_HOMESERVER to start a local one.",
        exitCode: ExitCode.unreachable,
      },
    );
  }
  return {
    route: "external",
    baseUrl,
    serverName: await probeServerName(baseUrl),
    registrationSecret,
    reused: true,
  };
}

/** Synapse names itself in its key document; a client-only listener leaves us the URL's host. */
async function probeServerName(baseUrl: string): Promise<string> {
  try {
    const response = await fetch(`${baseUrl}/_matrix/key/v2/server`, {
      signal: AbortSignal.timeout(3000),
    });
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok && typeof body === "object" && body !== null && "server_name" in body) {
      if (typeof body.server_name === "string") return body.server_name;
    }
  } catch {
    // Fall through to the URL's host.
  }
  return new URL(baseUrl).host;
}

/** Whether `/_matrix/client/versions` answers like a Matrix server. */
export async function answers(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/_matrix/client/versions`, {
      signal: AbortSignal.timeout(3000),
    });
    const body: unknown = await response.json().catch(() => undefined);
    return response.ok && typeof body === "object" && body !== null && "versions" in body;
  } catch {
    return false;
  }
}
