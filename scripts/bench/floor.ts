/**
 * The floors the figures are measured against: a raw long-poll /sync in this
 * process for receiving, and a bare curl PUT for sending.
 */
import type { SyncResponse } from "../../src/matrix/types.ts";
import { run as runCommand } from "../../harness/homeserver/launchers.ts";

/**
 * A PUT of `content` to `url` by curl as a whole process. The token comes from
 * a private header file: argv is visible to every user in ps.
 */
export async function curlPut(headerFile: string, content: string, url: string): Promise<void> {
  await runCommand("curl", [
    "-sS",
    "--fail-with-body",
    "-X",
    "PUT",
    "-H",
    `@${headerFile}`,
    "-H",
    "Content-Type: application/json",
    "--data-binary",
    content,
    url,
  ]);
}

/** When each event id first shows up in a raw /sync, with no filter. */
export interface SyncFloor {
  /** When (performance.now) each event id was first seen. */
  seen: Map<string, number>;
  /** The error that ended the loop, if one did. */
  failure(): unknown;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function syncFloor(baseUrl: string, accessToken: string): Promise<SyncFloor> {
  const stop = new AbortController();
  const seen = new Map<string, number>();
  let failure: unknown;
  const rawSync = async (since?: string): Promise<SyncResponse> => {
    const url = new URL("/_matrix/client/v3/sync", baseUrl);
    url.searchParams.set("timeout", "30000");
    if (since) url.searchParams.set("since", since);
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${accessToken}` },
      signal: stop.signal,
    });
    if (!response.ok) {
      throw new Error(`The raw /sync answered ${response.status}: ${await response.text()}`);
    }
    return await response.json();
  };
  let since = (await rawSync()).next_batch;
  const loop = (async () => {
    for (;;) {
      const batch = await rawSync(since);
      const at = performance.now();
      for (const room of Object.values(batch.rooms?.join ?? {})) {
        for (const event of room.timeline?.events ?? []) {
          if (!seen.has(event.event_id)) seen.set(event.event_id, at);
        }
      }
      since = batch.next_batch;
    }
  })().catch((err) => {
    if (!stop.signal.aborted) failure = err;
  });
  return {
    seen,
    failure: () => failure,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await loop;
    },
  };
}
