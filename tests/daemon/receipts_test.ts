import assert from "node:assert/strict";
import { flushReceipts } from "../../src/daemon/receipts.ts";
import { Store } from "../../src/store/store.ts";
import type { InboxMessage } from "../../src/store/types.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import {
  fakeFetch,
  type Handler,
  json,
  type RecordedRequest,
  VirtualClock,
} from "../support/fakes.ts";

const ME = "@agent:hs";

function message(n: number, roomId = "!own:hs"): InboxMessage {
  return {
    eventId: `$e${n}`,
    roomId,
    route: "direct",
    sender: "@human:hs",
    body: `message ${n}`,
    msgtype: "m.text",
    ts: 1_700_000_000_000 + n * 1000,
    autoReply: true,
  };
}

/** A store with the given messages read, and a flush against a scripted homeserver. */
async function withReceipts(
  read: InboxMessage[],
  handler: (r: RecordedRequest, store: Store) => Response | Promise<Response>,
  work: (flush: () => Promise<void>, store: Store, requests: RecordedRequest[]) => Promise<void>,
): Promise<string[]> {
  const clock = new VirtualClock();
  const kv = clock.realKv(await Deno.openKv(":memory:"));
  try {
    const deps = { now: clock.now, sleep: clock.sleep, random: () => 0.5 };
    const store = new Store(kv, deps, ME);
    const fake = fakeFetch(((r) => handler(r, store)) as Handler, clock);
    const client = new MatrixClient(
      new MatrixHttp({
        baseUrl: "http://hs.test",
        accessToken: "t",
        deps: { ...deps, fetch: fake.fetch },
      }),
    );
    const notes: string[] = [];
    await clock.run(
      store.commitBatch(read, "s1").then(() => store.claim()).then((m) => store.handedOver(m)),
    );
    const log = { debug: (m: string) => notes.push(m) };
    await work(() => clock.run(flushReceipts(client, store, log)), store, fake.requests);
    return notes;
  } finally {
    kv.close();
  }
}

const posted = (requests: RecordedRequest[]) =>
  requests.map((r) =>
    `${r.method} ${decodeURIComponent(r.url.pathname)} ${JSON.stringify(r.body)}`
  );
const pending = async (store: Store) => (await store.pendingReceipts()).map((r) => r.eventId);

Deno.test("flushReceipts", async (t) => {
  await t.step("posts one m.read receipt per room, then forgets them", async () => {
    const messages = [message(1), message(2, "!lobby:hs"), message(3)];
    await withReceipts(messages, () => json({}), async (flush, store, requests) => {
      await flush();
      assert.deepEqual(posted(requests), [
        "POST /_matrix/client/v3/rooms/!lobby:hs/receipt/m.read/$e2 {}",
        "POST /_matrix/client/v3/rooms/!own:hs/receipt/m.read/$e3 {}",
      ]);
      assert.deepEqual(await pending(store), []);
      await flush();
      assert.equal(requests.length, 2);
    });
  });

  await t.step(
    "a receipt that failed for a passing reason is kept and sent next time",
    async () => {
      let down = true;
      const handler = (r: RecordedRequest) =>
        down && r.url.pathname.includes("!own")
          ? Promise.reject(new TypeError("connection refused"))
          : json({});
      const messages = [message(1), message(2, "!lobby:hs")];
      const notes = await withReceipts(messages, handler, async (flush, store, requests) => {
        await flush();
        assert.deepEqual(await pending(store), ["$e1"]);
        down = false;
        await flush();
        assert.deepEqual(await pending(store), []);
        assert.equal(requests.filter((r) => r.url.pathname.includes("!own")).length, 2);
      });
      assert.equal(notes.length, 1);
      assert.match(notes[0], /^The read receipt for "\$e1" in "!own:hs" failed \(.*\); kept/);
    },
  );

  await t.step("a server error keeps the receipt too", async () => {
    const handler = () => json({ errcode: "M_UNKNOWN", error: "boom" }, 500);
    await withReceipts([message(1)], handler, async (flush, store) => {
      await flush();
      assert.deepEqual(await pending(store), ["$e1"]);
    });
  });

  await t.step("a receipt the server refuses (4xx) is dropped with a debug note", async () => {
    const handler = () => json({ errcode: "M_FORBIDDEN", error: "not in room" }, 403);
    const notes = await withReceipts([message(1)], handler, async (flush, store) => {
      await flush();
      assert.deepEqual(await pending(store), []);
    });
    assert.match(notes[0], /"\$e1" in "!own:hs" failed .*M_FORBIDDEN.*; dropped\.$/);
  });

  await t.step("a receipt a reader moved during the post stays pending", async () => {
    let moved = false;
    const handler = async (_r: RecordedRequest, store: Store) => {
      if (!moved) {
        moved = true;
        await store.commitBatch([message(9)], "s2");
        await store.handedOver(await store.claim());
      }
      return json({});
    };
    await withReceipts([message(1)], handler, async (flush, store, requests) => {
      await flush();
      assert.deepEqual(await pending(store), ["$e9"]);
      await flush();
      assert.deepEqual(await pending(store), []);
      assert.match(decodeURIComponent(requests[1].url.pathname), /\/receipt\/m\.read\/\$e9$/);
    });
  });
});
