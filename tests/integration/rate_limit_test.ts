/**
 * 429 handling on a second Synapse with low limits: a burst of concurrent calls
 * becomes a paced queue, every call succeeds within three attempts, and waits
 * follow the server's hint.
 */
import assert from "node:assert/strict";
import { RateLimitError } from "../../src/errors.ts";
import { MAX_ATTEMPTS } from "../../src/matrix/http.ts";
import { freshUser } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor, recordingFetch } from "../../harness/matrix.ts";

Deno.test("a burst against low rate limits all succeeds, paced by the server's hints", async (t) => {
  const hs = await testHomeserver("limited");
  const user = await freshUser(hs, "burst");
  const { fetch, exchanges } = recordingFetch();
  const client = clientFor(hs, user, { fetch });
  const roomId = await client.createRoom({ name: "burst" });
  const started = Date.now();

  const sends = Array.from(
    { length: 30 },
    (_, i) => client.sendText(roomId, { body: `message ${i}` }, `txn-${started}-${i}`),
  );
  const creations = Array.from(
    { length: 6 },
    (_, i) => client.createRoom({ name: `room ${started} ${i}` }),
  );
  const outcomes = await Promise.allSettled([...sends, ...creations]);
  const wallMs = Date.now() - started;
  console.log(
    `30 sends + 6 room creations: ${(wallMs / 1000).toFixed(1)} s, ${
      exchanges.filter((e) => e.status === 429).length
    } answers of 429`,
  );

  await t.step("every call succeeded", () => {
    const failures = outcomes.filter((o) => o.status === "rejected").map((o) =>
      String((o as PromiseRejectedResult).reason)
    );
    assert.deepEqual(failures, []);
    const eventIds = outcomes.slice(0, 30).map((o) => (o as PromiseFulfilledResult<string>).value);
    assert.equal(new Set(eventIds).size, 30);
  });

  await t.step("the server really limited us", () => {
    assert.ok(exchanges.some((e) => e.status === 429));
  });

  await t.step("no call made more than three attempts", () => {
    const attempts = new Map<string, number>();
    for (const e of exchanges) {
      if (e.method === "PUT" || e.path.endsWith("/createRoom")) {
        const key = `${e.path} ${e.body}`;
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
      }
    }
    // 30 sends, 6 creations and the room they were sent to.
    assert.equal(attempts.size, 37);
    assert.ok(Math.max(...attempts.values()) <= MAX_ATTEMPTS, JSON.stringify([...attempts]));
  });

  await t.step("each retry waited at least what the server asked", () => {
    const byKey = new Map<string, typeof exchanges>();
    for (const e of exchanges) {
      byKey.set(`${e.path} ${e.body}`, [...(byKey.get(`${e.path} ${e.body}`) ?? []), e]);
    }
    let checked = 0;
    for (const list of byKey.values()) {
      for (let i = 0; i + 1 < list.length; i++) {
        if (list[i].status !== 429 || list[i].retryAfter === null) continue;
        const asked = Number(list[i].retryAfter) * 1000;
        assert.ok(
          list[i + 1].sentAt - list[i].answeredAt >= asked - 5,
          `retried after ${list[i + 1].sentAt - list[i].answeredAt} ms, asked ${asked}`,
        );
        checked++;
      }
    }
    assert.ok(checked > 0);
  });
});

Deno.test("a hint over the cap gives the caller a rate-limit error, not a hang", async () => {
  const hs = await testHomeserver("limited");
  const user = await freshUser(hs, "capped");
  const client = clientFor(hs, user, { maxRetryWaitMs: 100 });
  const started = Date.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => client.createRoom({ name: `capped ${i}` })),
  );
  const errors = outcomes.filter((o) => o.status === "rejected").map((o) =>
    (o as PromiseRejectedResult).reason
  );
  assert.ok(errors.length > 0);
  for (const err of errors) {
    assert.ok(err instanceof RateLimitError, String(err));
    assert.match(err.message, /asked to wait [\d.]+ s, longer than the 100 ms cap/);
    assert.equal(err.exitCode, 6);
  }
  assert.ok(Date.now() - started < 5_000);
});
