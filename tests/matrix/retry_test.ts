import assert from "node:assert/strict";
import { backoffMs } from "../../src/backoff.ts";
import { parseRetryAfter, serverRetryHint } from "../../src/matrix/retry.ts";

Deno.test("parseRetryAfter", async (t) => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  await t.step("reads delay-seconds", () => {
    assert.equal(parseRetryAfter("2", now), 2000);
    assert.equal(parseRetryAfter(" 0.5 ", now), 500);
  });
  await t.step("reads an HTTP-date relative to now", () => {
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 12:00:07 GMT", now), 7000);
  });
  await t.step("clamps a date in the past to zero", () => {
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now), 0);
  });
  await t.step("gives up on absent or unreadable values", () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter("-3", now), undefined);
  });
});

Deno.test("serverRetryHint prefers the header, then the body", async (t) => {
  await t.step("header wins", () => {
    assert.equal(serverRetryHint("2", { retry_after_ms: 1950 }, 0), 2000);
  });
  await t.step("body when the header is missing or unreadable", () => {
    assert.equal(serverRetryHint(null, { retry_after_ms: 1950 }, 0), 1950);
    assert.equal(serverRetryHint("later", { retry_after_ms: 10 }, 0), 10);
  });
  await t.step("nothing when neither is usable", () => {
    assert.equal(serverRetryHint(null, { retry_after_ms: "x" }, 0), undefined);
    assert.equal(serverRetryHint(null, { retry_after_ms: -1 }, 0), undefined);
    assert.equal(serverRetryHint(null, undefined, 0), undefined);
  });
});

Deno.test("backoffMs doubles per attempt and jitters within the upper half", async (t) => {
  await t.step("bounds", () => {
    assert.equal(backoffMs(1, () => 0), 250);
    assert.equal(backoffMs(1, () => 0.999999), 500);
    assert.equal(backoffMs(3, () => 0), 1000);
    assert.equal(backoffMs(3, () => 0.999999), 2000);
  });
  await t.step("spreads concurrent clients", () => {
    const seen = new Set([0, 0.25, 0.5, 0.75].map((r) => backoffMs(2, () => r)));
    assert.equal(seen.size, 4);
  });
});
