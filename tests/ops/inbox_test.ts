import assert from "node:assert/strict";
import { ack, inbox, SAFETY_POLL_MS, wait } from "../../src/ops/inbox.ts";
import { UsageError } from "../../src/errors.ts";
import { holdDataFile } from "../../src/ops/local.ts";
import { Store } from "../../src/store/store.ts";
import { commandHarness, noRequests } from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";
import { opContext } from "../support/ops.ts";

Deno.test("inbox and wait, called directly", async (t) => {
  await t.step("a taking is read once settled as delivered, and unread again if not", async () => {
    await using h = await commandHarness(noRequests);
    await h.login();
    await h.store((s) => s.commitBatch([inboxMessage(1), inboxMessage(2)], "s1"));
    const { ctx } = opContext(h);
    const peeked = await h.clock.run(inbox(ctx, { peek: true }));
    await peeked.settle(true);
    assert.deepEqual(peeked.value.map((m) => m.event_id), ["$m1", "$m2"]);
    const lost = await h.clock.run(inbox(ctx, { limit: 1 }));
    assert.deepEqual(lost.value.map((m) => m.event_id), ["$m1"]);
    await lost.settle(false);
    const taken = await h.clock.run(inbox(ctx));
    assert.deepEqual(taken.value.map((m) => m.event_id), ["$m1", "$m2"], "the lost one came back");
    await taken.settle(true);
    assert.deepEqual(await h.store((s) => s.unread()), []);
    assert.deepEqual(h.requests, [], "a reader asks the server nothing");
  });

  await t.step("a wait on a held data file wakes when the same process stores", async () => {
    await using h = await commandHarness(noRequests);
    await h.login();
    const { ctx } = opContext(h);
    await using held = await holdDataFile(ctx);
    const start = h.clock.now();
    const waiting = wait(held, { timeoutMs: 60_000 });
    // What a sync loop of this process does: store, then ring the inbox signal.
    const kv = held.dataFile!.kv;
    await new Store(kv, h.deps, "@bob:hs.test").commitBatch([inboxMessage(7)], "s7");
    const signal = await held.dataFile!.signals.signal(`${h.dataDir}/inbox.signal`);
    await signal.notify();
    const got = await h.clock.run(waiting);
    assert.equal(got.value?.event_id, "$m7");
    assert.ok(h.clock.now() - start < SAFETY_POLL_MS, "woken at once, not by the slow look");
    await got.settle(true);
  });

  await t.step("a peek takes nothing; ack takes what it names, by short or event id", async () => {
    await using h = await commandHarness(noRequests);
    await h.login();
    await h.store((s) => s.commitBatch([1, 2, 3].map((n) => inboxMessage(n)), "s1"));
    const { ctx } = opContext(h);
    const looked = await h.clock.run(inbox(ctx, { peek: true }));
    await looked.settle(true);
    const [first, , third] = looked.value;
    const acked = await h.clock.run(ack(ctx, { ids: [first.id!, third.event_id] }));
    assert.deepEqual(acked.acknowledged.map((m) => m.event_id), ["$m1", "$m3"]);
    assert.deepEqual(acked.already_read, []);
    assert.deepEqual((await h.store((s) => s.unread())).map((m) => m.eventId), ["$m2"]);
    // Again: already read, and nothing taken twice.
    const again = await h.clock.run(ack(ctx, { ids: [`#${first.id}`] }));
    assert.deepEqual([again.acknowledged, again.already_read], [[], ["$m1"]]);
    // Their senders see the receipts: the daemon is told to post them.
    assert.equal((await h.store((s) => s.pendingReceipts())).length, 1);
  });

  await t.step("an unknown id or none at all is a usage error, and nothing is taken", async () => {
    await using h = await commandHarness(noRequests);
    await h.login();
    await h.store((s) => s.commitBatch([inboxMessage(1)], "s1"));
    const { ctx } = opContext(h);
    for (const ids of [[1, 99], ["nonsense"], []]) {
      await assert.rejects(h.clock.run(ack(ctx, { ids })), UsageError, JSON.stringify(ids));
    }
    assert.equal((await h.store((s) => s.unread())).length, 1);
  });
});
