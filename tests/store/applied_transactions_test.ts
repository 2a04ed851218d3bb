import assert from "node:assert/strict";
import {
  AppliedTransactions,
  TRANSACTION_MEMORY_MS,
} from "../../src/store/applied_transactions.ts";
import { fakeTime, withKv } from "../support/kv.ts";

Deno.test("AppliedTransactions", async (t) => {
  await t.step("remembers a transaction for its service until its memory lapses", async () => {
    await withKv(async (kv) => {
      const { deps } = fakeTime();
      const applied = new AppliedTransactions(kv, deps, "fleet");
      assert.equal(await applied.has("7"), false);
      await applied.add("7");
      assert.equal(await applied.has("7"), true);
      assert.equal(await applied.has("8"), false);
      // Another service's transaction 7 is another transaction.
      assert.equal(await new AppliedTransactions(kv, deps, "other").has("7"), false);
      // KV may keep the record past its expiry; the stored time decides.
      deps.time += TRANSACTION_MEMORY_MS;
      assert.equal(await applied.has("7"), false);
    });
  });
});
