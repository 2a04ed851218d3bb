import assert from "node:assert/strict";
import { staleAfterMs } from "../../src/ops/status.ts";

Deno.test("staleAfterMs: two long-polls plus 15 s of slack", async (t) => {
  await t.step("the default 30 s long-poll", () => {
    assert.equal(staleAfterMs(30_000), 75_000);
  });
  await t.step("other long-polls", () => {
    assert.equal(staleAfterMs(1_000), 17_000);
    assert.equal(staleAfterMs(60_000), 135_000);
    assert.equal(staleAfterMs(0), 15_000);
  });
  await t.step("always longer than one long-poll, growing with it", () => {
    for (const poll of [1_000, 10_000, 30_000, 300_000]) {
      assert.ok(staleAfterMs(poll) > 2 * poll, String(poll));
      assert.ok(staleAfterMs(poll + 1_000) > staleAfterMs(poll));
    }
  });
});
