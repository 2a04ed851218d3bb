/** Store.claimMessages: taking chosen messages, not the oldest N, with one reader per message. */
import assert from "node:assert/strict";
import { Store } from "../../src/daemon/store.ts";
import type { InboxMessage } from "../../src/daemon/types.ts";
import { fakeTime, withKv } from "../support/kv.ts";

function message(n: number): InboxMessage {
  return {
    eventId: `$e${n}`,
    roomId: "!own:hs",
    route: "direct",
    sender: "@bob:hs",
    body: `message ${n}`,
    msgtype: "m.text",
    ts: 1_700_000_000_000 + n * 1000,
    autoReply: true,
  };
}

const ids = (messages: InboxMessage[]) => messages.map((m) => m.eventId);

Deno.test("Store.claimMessages", async (t) => {
  await t.step("takes the chosen messages and leaves older ones unread", async () => {
    await withKv(async (kv) => {
      const store = new Store(kv, fakeTime().deps, "@me:hs");
      await store.commitBatch([1, 2, 3, 4].map(message), "s1");
      assert.deepEqual(ids(await store.claimMessages([message(2), message(4)])), ["$e2", "$e4"]);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e3"]);
    });
  });

  await t.step("a message taken by another reader is left out, the rest still taken", async () => {
    await withKv(async (kv) => {
      const store = new Store(kv, fakeTime().deps, "@me:hs");
      await store.commitBatch([1, 2, 3].map(message), "s1");
      assert.deepEqual(ids(await store.claim(1)), ["$e1"]);
      assert.deepEqual(ids(await store.claimMessages([1, 2, 3].map(message))), ["$e2", "$e3"]);
      assert.deepEqual(await store.claimMessages([message(2), message(9)]), []);
      assert.deepEqual(await store.unread(), []);
    });
  });

  await t.step("more than one commit's worth is taken in chunks", async () => {
    await withKv(async (kv) => {
      const store = new Store(kv, fakeTime().deps, "@me:hs");
      const batch = Array.from({ length: 25 }, (_, i) => message(i + 1));
      await store.commitBatch(batch, "s1");
      assert.deepEqual(ids(await store.claimMessages(batch)), ids(batch));
      assert.deepEqual(await store.unread(), []);
    });
  });
});
