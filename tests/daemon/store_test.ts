import assert from "node:assert/strict";
import { Store } from "../../src/daemon/store.ts";
import type { DaemonStatus, InboxMessage } from "../../src/daemon/types.ts";
import { VirtualClock } from "../support/fakes.ts";

const ME = "@me:hs";

function message(n: number, overrides: Partial<InboxMessage> = {}): InboxMessage {
  return {
    eventId: `$e${n}`,
    roomId: "!own:hs",
    route: "direct",
    sender: "@bob:hs",
    body: `message ${n}`,
    msgtype: "m.text",
    ts: 1_700_000_000_000 + n * 1000,
    autoReply: true,
    ...overrides,
  };
}

/** A store on an in-memory KV, closed when `work` ends. */
async function withStore(
  work: (store: Store, kv: Deno.Kv) => Promise<void>,
  userId = ME,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = new VirtualClock();
    await work(new Store(kv, { sleep: clock.sleep, random: () => 0.5 }, userId), kv);
  } finally {
    kv.close();
  }
}

const ids = (messages: InboxMessage[]) => messages.map((m) => m.eventId);

Deno.test("Store.commitBatch", async (t) => {
  await t.step("stores new messages, returns their count and saves the token", async () => {
    await withStore(async (store) => {
      assert.equal(await store.syncToken(), undefined);
      assert.equal(await store.commitBatch([message(1), message(2)], "s1"), 2);
      assert.equal(await store.syncToken(), "s1");
      assert.deepEqual(await store.unread(), [message(1), message(2)]);
    });
  });

  await t.step("an empty batch still saves the token", async () => {
    await withStore(async (store) => {
      assert.equal(await store.commitBatch([], "s9"), 0);
      assert.equal(await store.syncToken(), "s9");
      assert.deepEqual(await store.unread(), []);
    });
  });

  await t.step("replaying a batch adds nothing but moves the token", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1), message(2)], "s1");
      assert.equal(await store.commitBatch([message(1), message(2)], "s2"), 0);
      assert.equal(await store.syncToken(), "s2");
      assert.equal((await store.unread()).length, 2);
    });
  });

  await t.step("only the unseen messages of a mixed batch count", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1)], "s1");
      assert.equal(await store.commitBatch([message(1), message(2), message(3)], "s2"), 2);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e2", "$e3"]);
    });
  });

  await t.step("a replay does not resurrect messages already read", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1), message(2)], "s1");
      await store.markRead(await store.unread(1));
      assert.deepEqual(ids(await store.unread()), ["$e2"]);
      assert.equal(await store.commitBatch([message(1), message(2)], "s1"), 0);
      assert.deepEqual(ids(await store.unread()), ["$e2"]);
    });
  });

  await t.step("duplicates within one batch are stored once", async () => {
    await withStore(async (store, kv) => {
      assert.equal(await store.commitBatch([message(1), message(1), message(2)], "s1"), 2);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e2"]);
      let unreadKeys = 0;
      for await (const _ of kv.list({ prefix: ["user", ME, "unread"] })) unreadKeys++;
      assert.equal(unreadKeys, 2);
    });
  });

  await t.step(
    "a batch of 250 (several write chunks) is stored whole, with the token",
    async () => {
      const kv = await Deno.openKv(":memory:");
      try {
        // Count the atomic operations, to prove the batch really spans several commits.
        let atomics = 0;
        const counted = new Proxy(kv, {
          get(target, key) {
            const value = Reflect.get(target, key, target);
            if (typeof value !== "function") return value;
            return (...args: unknown[]) => {
              if (key === "atomic") atomics++;
              return value.apply(target, args);
            };
          },
        });
        const store = new Store(counted, { sleep: new VirtualClock().sleep, random: () => 0 }, ME);
        const batch = Array.from({ length: 250 }, (_, i) => message(i + 1));
        assert.equal(await store.commitBatch(batch, "s-big"), 250);
        assert.ok(atomics >= 3, `250 messages and a token took ${atomics} commits`);
        assert.equal(await store.syncToken(), "s-big");
        const unread = await store.unread();
        assert.equal(unread.length, 250);
        assert.deepEqual(ids(unread), ids(batch));
        assert.equal(await store.commitBatch(batch, "s-big-2"), 0);
        await store.markRead(unread);
        assert.deepEqual(await store.unread(), []);
      } finally {
        kv.close();
      }
    },
  );
});

Deno.test("Store.unread", async (t) => {
  await t.step("oldest first by the server's timestamp, whatever the arrival order", async () => {
    await withStore(async (store) => {
      const late = message(1, { ts: 3_000 });
      const early = message(2, { ts: 1_000 });
      const middle = message(3, { ts: 2_000 });
      await store.commitBatch([late, early], "s1");
      await store.commitBatch([middle], "s2");
      assert.deepEqual(ids(await store.unread()), ["$e2", "$e3", "$e1"]);
    });
  });

  await t.step("honours the limit, taking the oldest", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(3), message(1), message(2), message(4)], "s1");
      assert.deepEqual(ids(await store.unread(2)), ["$e1", "$e2"]);
      assert.deepEqual(ids(await store.unread(1)), ["$e1"]);
      assert.equal((await store.unread(10)).length, 4);
    });
  });

  await t.step("markRead removes exactly the given messages", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1), message(2), message(3)], "s1");
      await store.markRead([message(2)]);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e3"]);
      await store.markRead([]);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e3"]);
    });
  });

  await t.step("messages keep their optional fields", async () => {
    await withStore(async (store) => {
      const reply = message(1, {
        route: "mention",
        msgtype: "m.notice",
        autoReply: false,
        replyTo: "$p",
        threadRoot: "$r",
      });
      await store.commitBatch([reply], "s1");
      assert.deepEqual(await store.unread(), [reply]);
    });
  });
});

Deno.test("Store.unread with a limit of 0 returns nothing", async () => {
  await withStore(async (store) => {
    await store.commitBatch([message(1)], "s1");
    assert.deepEqual(await store.unread(0), []);
    assert.equal((await store.unread()).length, 1);
  });
});

Deno.test("Store filter ids and daemon status", async (t) => {
  await t.step("filterId / saveFilterId by hash", async () => {
    await withStore(async (store) => {
      assert.equal(await store.filterId("h1"), undefined);
      await store.saveFilterId("h1", "42");
      await store.saveFilterId("h2", "43");
      assert.equal(await store.filterId("h1"), "42");
      assert.equal(await store.filterId("h2"), "43");
      await store.saveFilterId("h1", "44");
      assert.equal(await store.filterId("h1"), "44");
    });
  });

  await t.step("daemonStatus round trips", async () => {
    await withStore(async (store) => {
      assert.equal(await store.daemonStatus(), undefined);
      const status: DaemonStatus = {
        pid: 4242,
        host: "h",
        name: "builder",
        startedAt: 1_700_000_000_000,
        lastSyncAt: null,
        state: "booting",
        lastError: null,
        failure: null,
        spaceId: "!space:hs",
        lobbyId: "!lobby:hs",
        roomId: null,
        droppedSenders: 0,
      };
      await store.saveDaemonStatus(status);
      assert.deepEqual(await store.daemonStatus(), status);
      const running = {
        ...status,
        state: "running" as const,
        lastSyncAt: 1_700_000_030_000,
        droppedSenders: 3,
        lastError: "boom",
      };
      await store.saveDaemonStatus(running);
      assert.deepEqual(await store.daemonStatus(), running);
    });
  });
});

Deno.test("two users in one KV do not mix", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const deps = { sleep: new VirtualClock().sleep, random: () => 0.5 };
    const alice = new Store(kv, deps, "@alice:hs");
    const bob = new Store(kv, deps, "@bob:hs");
    assert.equal(await alice.commitBatch([message(1), message(2)], "a1"), 2);
    // The same event id reaches bob too: it is new for bob.
    assert.equal(await bob.commitBatch([message(2), message(3)], "b1"), 2);
    assert.equal(await alice.syncToken(), "a1");
    assert.equal(await bob.syncToken(), "b1");
    assert.deepEqual(ids(await alice.unread()), ["$e1", "$e2"]);
    assert.deepEqual(ids(await bob.unread()), ["$e2", "$e3"]);
    await alice.markRead(await alice.unread());
    assert.deepEqual(await alice.unread(), []);
    assert.deepEqual(ids(await bob.unread()), ["$e2", "$e3"]);
    await alice.saveFilterId("h", "fa");
    assert.equal(await bob.filterId("h"), undefined);
    await bob.saveDaemonStatus({
      pid: 1,
      host: "h",
      name: "bob",
      startedAt: 0,
      lastSyncAt: null,
      state: "stopped",
      lastError: null,
      failure: null,
      spaceId: null,
      lobbyId: null,
      roomId: null,
      droppedSenders: 0,
    });
    assert.equal(await alice.daemonStatus(), undefined);
    assert.equal((await bob.daemonStatus())?.name, "bob");
  } finally {
    kv.close();
  }
});

Deno.test("a store on a KV file is seen by a second connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-store-" });
  try {
    const deps = { sleep: new VirtualClock().sleep, random: () => 0.5 };
    const writer = await Deno.openKv(`${dir}/cchat.kv`);
    try {
      await new Store(writer, deps, ME).commitBatch([message(1)], "s1");
    } finally {
      writer.close();
    }
    const reader = await Deno.openKv(`${dir}/cchat.kv`);
    try {
      const store = new Store(reader, deps, ME);
      assert.deepEqual(ids(await store.unread()), ["$e1"]);
      assert.equal(await store.syncToken(), "s1");
    } finally {
      reader.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
