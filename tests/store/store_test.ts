import assert from "node:assert/strict";
import { Store } from "../../src/store/store.ts";
import { DEFAULT_INBOX_RETENTION_MS } from "../../src/defaults.ts";
import { fakeTime, withKv } from "../support/kv.ts";
import type { InboxMessage } from "../../src/store/types.ts";
import { realSleep } from "../../src/deps.ts";
import { VirtualClock } from "../support/fakes.ts";

const realTime = { now: Date.now, sleep: realSleep, random: Math.random };

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
  work: (store: Store, clock: VirtualClock, kv: Deno.Kv) => Promise<void>,
  userId = ME,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = new VirtualClock();
    const deps = { now: clock.now, sleep: clock.sleep, random: () => 0.5 };
    await work(new Store(kv, deps, userId), clock, kv);
  } finally {
    kv.close();
  }
}

const ids = (messages: InboxMessage[]) => messages.map((m) => m.eventId);

/** A message as the store hands it back, with the short id it was given. */
const numbered = (m: InboxMessage, id: number): InboxMessage => ({ ...m, id });

Deno.test("Store.commitBatch", async (t) => {
  await t.step("stores new messages, returns their count and saves the token", async () => {
    await withStore(async (store) => {
      assert.equal(await store.syncToken(), undefined);
      assert.equal(await store.commitBatch([message(1), message(2)], "s1"), 2);
      assert.equal(await store.syncToken(), "s1");
      assert.deepEqual(await store.unread(), [numbered(message(1), 1), numbered(message(2), 2)]);
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

  await t.step("two batches committed at once that share a message store it once", async () => {
    await withStore(async (store) => {
      // A batch the homeserver pushed, and a sync that caught up with the same event.
      const added = await Promise.all([
        store.commitBatch([message(1), message(2)], undefined),
        store.commitBatch([message(2), message(3)], "s1"),
      ]);
      assert.deepEqual(added, [2, 1]);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e2", "$e3"]);
      assert.equal(await store.syncToken(), "s1");
    });
  });

  await t.step("duplicates within one batch are stored once", async () => {
    await withStore(async (store, _clock, kv) => {
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
        const store = new Store(counted, realTime, ME);
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
      assert.deepEqual(await store.unread(), [numbered(reply, 1)]);
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

Deno.test("two users in one KV do not mix", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const deps = { now: Date.now, sleep: new VirtualClock().sleep, random: () => 0.5 };
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
  } finally {
    kv.close();
  }
});

Deno.test("a store on a KV file is seen by a second connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-store-" });
  try {
    const deps = { now: Date.now, sleep: new VirtualClock().sleep, random: () => 0.5 };
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

Deno.test("Store.claim", async (t) => {
  await t.step(
    "takes the oldest unread messages, up to the limit, and leaves the rest",
    async () => {
      await withStore(async (store) => {
        await store.commitBatch([message(3), message(1), message(2), message(4)], "s1");
        assert.deepEqual(await store.claim(0), []);
        assert.deepEqual(await store.claim(2), [numbered(message(1), 2), numbered(message(2), 3)]);
        assert.deepEqual(ids(await store.unread()), ["$e3", "$e4"]);
        assert.deepEqual(ids(await store.claim()), ["$e3", "$e4"]);
        assert.deepEqual(await store.claim(), []);
      });
    },
  );

  await t.step("more than a chunk at once, without a limit", async () => {
    await withStore(async (store) => {
      const batch = Array.from({ length: 25 }, (_, i) => message(i + 1));
      await store.commitBatch(batch, "s1");
      assert.deepEqual(await store.claim(), batch.map((m, i) => numbered(m, i + 1)));
      assert.deepEqual(await store.unread(), []);
    });
  });

  await t.step("a claimed message is not stored again by a replay", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1)], "s1");
      await store.claim();
      assert.equal(await store.commitBatch([message(1)], "s1"), 0);
      assert.deepEqual(await store.unread(), []);
    });
  });
});

/** Two connections to one KV file, as two processes would have, closed when `work` ends. */
async function withTwoConnections(work: (a: Store, b: Store) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cchat-claim-" });
  const first = await Deno.openKv(`${dir}/cchat.kv`);
  const second = await Deno.openKv(`${dir}/cchat.kv`);
  try {
    await work(new Store(first, realTime, ME), new Store(second, realTime, ME));
  } finally {
    first.close();
    second.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("two stores on one file claiming at once hand out each message once", async () => {
  await withTwoConnections(async (a, b) => {
    const batch = Array.from({ length: 200 }, (_, i) => message(i + 1));
    await a.commitBatch(batch, "s1");
    const drain = async (store: Store, limit: number) => {
      const taken: string[] = [];
      for (;;) {
        const claimed = await store.claim(limit);
        if (claimed.length === 0) return taken;
        taken.push(...ids(claimed));
      }
    };
    const taken = (await Promise.all([drain(a, 3), drain(b, 3), drain(a, 7), drain(b, 1)])).flat();
    assert.equal(taken.length, 200, `${taken.length - new Set(taken).size} handed out twice`);
    assert.deepEqual(taken.toSorted(), ids(batch).toSorted());
  });
});

Deno.test("a claim that loses a race skips the message and takes the next", async () => {
  await withTwoConnections(async (a, b) => {
    await a.commitBatch([message(1), message(2), message(3)], "s1");
    const [first, second] = await Promise.all([a.claim(1), b.claim(1)]);
    assert.deepEqual([...ids(first), ...ids(second)].toSorted(), ["$e1", "$e2"]);
    assert.deepEqual(ids(await a.unread()), ["$e3"]);
  });
});

Deno.test("retention of read messages", async (t) => {
  const RETENTION_MS = 60_000;
  /** Every `set` of an atomic operation, with its options. */
  interface Set {
    key: Deno.KvKey;
    value: unknown;
    options?: { expireIn?: number };
  }

  /** A store on virtual time with the given retention, recording the sets it commits. */
  async function withRetention(
    work: (store: Store, clock: VirtualClock, sets: Set[], kv: Deno.Kv) => Promise<void>,
  ): Promise<void> {
    const clock = new VirtualClock();
    const raw = await Deno.openKv(":memory:");
    const sets: Set[] = [];
    const recording = new Proxy(raw, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key !== "atomic") return typeof value === "function" ? value.bind(target) : value;
        return () => {
          const op = target.atomic();
          const set = op.set.bind(op);
          op.set = (key, value, options) => {
            sets.push({ key, value, options });
            return set(key, value, options);
          };
          return op;
        };
      },
    });
    const kv = clock.realKv(recording);
    try {
      const deps = { now: clock.now, sleep: clock.sleep, random: () => 0.5 };
      await clock.run(work(new Store(kv, deps, ME, RETENTION_MS), clock, sets, raw));
    } finally {
      raw.close();
    }
  }

  const msgSets = (sets: Set[], eventId: string) =>
    sets.filter((s) => s.key.at(-2) === "msg" && s.key.at(-1) === eventId);

  await t.step("a claimed message is rewritten to expire after the retention", async () => {
    await withRetention(async (store, clock, sets, kv) => {
      await store.commitBatch([message(1)], "s1");
      assert.deepEqual(msgSets(sets, "$e1").map((s) => s.options?.expireIn), [undefined]);
      const claimedAt = clock.time;
      assert.deepEqual(await store.claim(), [numbered(message(1), 1)]);
      const read = msgSets(sets, "$e1").at(-1)!;
      assert.equal(read.options?.expireIn, RETENTION_MS);
      const stored = await kv.get<{ expiresAt?: number }>(["user", ME, "msg", "$e1"]);
      assert.equal(stored.value?.expiresAt, claimedAt + RETENTION_MS);
    });
  });

  await t.step("markRead expires what it marks in the same way", async () => {
    await withRetention(async (store, clock, sets) => {
      await store.commitBatch([message(1), message(2)], "s1");
      await store.markRead([message(2)]);
      const read = msgSets(sets, "$e2").at(-1)!;
      assert.equal(read.options?.expireIn, RETENTION_MS);
      assert.deepEqual(read.value, { ...message(2), expiresAt: clock.time + RETENTION_MS });
      assert.equal(msgSets(sets, "$e1").length, 1);
    });
  });

  await t.step("reading many large messages stays inside KV's size per commit", async () => {
    await withRetention(async (store) => {
      const large = Array.from({ length: 60 }, (_, i) => message(i, { body: "x".repeat(30_000) }));
      for (const m of large) await store.commitBatch([m], `s${m.eventId}`);
      await store.markRead(large.slice(0, 30));
      assert.deepEqual(ids(await store.claim()), ids(large.slice(30)));
      assert.deepEqual(await store.unread(), []);
    });
  });

  await t.step("a replay is dropped until the retention ends, then is new again", async () => {
    await withRetention(async (store, clock) => {
      await store.commitBatch([message(1)], "s1");
      const claimedAt = clock.time;
      await store.claim();
      clock.time = claimedAt + RETENTION_MS - 1;
      assert.equal(await store.commitBatch([message(1)], "s2"), 0);
      assert.deepEqual(await store.unread(), []);
      // KV deletes expired entries late; the stored deadline decides, not the deletion.
      clock.time = claimedAt + RETENTION_MS;
      assert.equal(await store.commitBatch([message(1)], "s3"), 1);
      assert.deepEqual(await store.unread(), [numbered(message(1), 2)]);
    });
  });

  await t.step("a read message's short id expires with it", async () => {
    await withRetention(async (store, clock, sets) => {
      await store.commitBatch([message(1)], "s1");
      assert.equal((await store.message(1))?.eventId, "$e1");
      const claimedAt = clock.time;
      await store.claim();
      const shortSets = sets.filter((s) => s.key.at(-2) === "short" && s.key.at(-1) === 1);
      assert.deepEqual(shortSets.map((s) => [s.value, s.options?.expireIn]), [
        ["$e1", undefined],
        ["$e1", RETENTION_MS],
      ]);
      clock.time = claimedAt + RETENTION_MS - 1;
      assert.equal((await store.message(1))?.eventId, "$e1");
      // Like a replay, a lookup goes by the stored deadline, not by KV's late deletion.
      clock.time = claimedAt + RETENTION_MS;
      assert.equal(await store.message(1), undefined);
      assert.equal(await store.message("$e1"), undefined);
    });
  });

  await t.step("unread messages never expire", async () => {
    await withRetention(async (store, clock, sets) => {
      await store.commitBatch([message(1)], "s1");
      clock.time += 1000 * RETENTION_MS;
      assert.deepEqual(await store.unread(), [numbered(message(1), 1)]);
      assert.equal(await store.commitBatch([message(1)], "s2"), 0);
      assert.deepEqual(await store.claim(), [numbered(message(1), 1)]);
      const unreadSets = sets.filter((s) => s.key.at(-3) === "unread");
      assert.ok(unreadSets.length > 0 && unreadSets.every((s) => !s.options?.expireIn));
    });
  });
});

Deno.test("short ids", async (t) => {
  await t.step("count up across batches, and a replay takes no number", async () => {
    await withStore(async (store, _clock, kv) => {
      await store.commitBatch([message(1), message(2)], "s1");
      await store.commitBatch([message(2), message(3)], "s2");
      assert.deepEqual((await store.unread()).map((m) => [m.id, m.eventId]), [
        [1, "$e1"],
        [2, "$e2"],
        [3, "$e3"],
      ]);
      assert.equal((await kv.get(["user", ME, "short", 3])).value, "$e3");
    });
  });

  await t.step("a batch of several commits is numbered without gaps", async () => {
    await withStore(async (store) => {
      const batch = Array.from({ length: 70 }, (_, i) => message(i + 1));
      await store.commitBatch(batch, "s1");
      const unread = await store.unread();
      assert.deepEqual(unread.map((m) => m.id), batch.map((_, i) => i + 1));
      assert.equal(await store.syncToken(), "s1");
    });
  });

  await t.step("two writers at once never share a number", async () => {
    await withTwoConnections(async (a, b) => {
      await Promise.all([
        a.commitBatch([message(1), message(2)], "a"),
        b.commitBatch([message(3), message(4)], "b"),
      ]);
      const numbers = (await a.unread()).map((m) => m.id);
      assert.deepEqual(numbers.toSorted(), [1, 2, 3, 4]);
    });
  });

  await t.step("Store.message finds a message by short id or event id, read or not", async () => {
    await withStore(async (store) => {
      const threaded = message(2, { threadRoot: "$root", roomId: "!other:hs" });
      await store.commitBatch([message(1), threaded], "s1");
      await store.claim(1);
      assert.deepEqual(await store.message(1), numbered(message(1), 1));
      assert.deepEqual(await store.message(2), numbered(threaded, 2));
      assert.deepEqual(await store.message("$e2"), numbered(threaded, 2));
      assert.equal(await store.message(3), undefined);
      assert.equal(await store.message("$nope"), undefined);
    });
  });
});

Deno.test("edits and withdrawals follow their message", async (t) => {
  const edit = (n: number, of: number, body: string, overrides: Partial<InboxMessage> = {}) =>
    message(n, { body, editOf: `$e${of}`, ...overrides });

  await t.step("an edit of an unread message replaces its text, under its id", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1)], "s1");
      assert.equal(await store.commitBatch([edit(2, 1, "better")], "s2"), 0);
      const [only] = await store.unread();
      assert.deepEqual([only.eventId, only.body, only.edited, only.id], ["$e1", "better", true, 1]);
      assert.equal(await store.syncToken(), "s2");
    });
  });

  await t.step(
    "an edit of a read message arrives as its own message, naming the original",
    async () => {
      await withStore(async (store) => {
        await store.commitBatch([message(1)], "s1");
        await store.handedOver(await store.claim());
        assert.equal(await store.commitBatch([edit(2, 1, "better")], "s2"), 1);
        const [arrived] = await store.unread();
        assert.deepEqual([arrived.eventId, arrived.body, arrived.editOf], ["$e2", "better", "$e1"]);
      });
    },
  );

  await t.step("an edit by anyone but the sender is no edit, and is dropped", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1)], "s1");
      await store.commitBatch([edit(2, 1, "forged", { sender: "@eve:hs" })], "s2");
      assert.deepEqual((await store.unread()).map((m) => m.body), ["message 1"]);
    });
  });

  await t.step("a withdrawn unread message leaves the inbox, its text gone", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1), message(2)], "s1");
      await store.commitBatch([], "s2", ["$e1"]);
      assert.deepEqual(ids(await store.unread()), ["$e2"]);
      const gone = await store.message(1);
      assert.deepEqual([gone?.body, gone?.withdrawn], ["", true]);
      // A replay of the batch that held it does not bring it back.
      assert.equal(await store.commitBatch([message(1)], "s2"), 0);
      assert.deepEqual(ids(await store.unread()), ["$e2"]);
    });
  });

  await t.step("a withdrawn read message keeps no text either", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1)], "s1");
      await store.handedOver(await store.claim());
      await store.commitBatch([], "s2", ["$e1", "$unknown"]);
      assert.equal((await store.message("$e1"))?.body, "");
    });
  });
});

Deno.test("Store.putBack", async (t) => {
  await t.step(
    "a taken message put back is unread again, under its short id, for good",
    async () => {
      await withStore(async (store, clock) => {
        await store.commitBatch([message(1), message(2)], "s1");
        const taken = await store.claim(1);
        assert.deepEqual(ids(await store.unread()), ["$e2"]);
        await store.putBack(taken);
        assert.deepEqual(ids(await store.unread()), ["$e1", "$e2"]);
        assert.deepEqual(await store.pendingReceipts(), []);
        // Past the retention a read message would be gone; one put back is kept until read.
        clock.time += DEFAULT_INBOX_RETENTION_MS * 2;
        assert.equal((await store.message(taken[0].id!))?.eventId, "$e1");
        assert.deepEqual(await store.claim(1), taken);
      });
    },
  );
});

Deno.test("pending read receipts", async (t) => {
  const receipts = async (store: Store) =>
    (await store.pendingReceipts()).map(({ roomId, eventId, ts }) => ({ roomId, eventId, ts }));

  await t.step("claiming notes nothing until the messages are handed over", async () => {
    await withStore(async (store) => {
      const elsewhere = message(2, { roomId: "!lobby:hs" });
      await store.commitBatch([message(1), elsewhere, message(3), message(4)], "s1");
      const taken = await store.claim(3);
      assert.deepEqual(await receipts(store), []);
      await store.handedOver(taken);
      assert.deepEqual(await receipts(store), [
        { roomId: "!lobby:hs", eventId: "$e2", ts: elsewhere.ts },
        { roomId: "!own:hs", eventId: "$e3", ts: message(3).ts },
      ]);
    });
  });

  await t.step("peeking notes nothing", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1)], "s1");
      await store.unread();
      assert.deepEqual(await receipts(store), []);
    });
  });

  await t.step("an earlier message read later does not move the receipt back", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1), message(5)], "s1");
      await store.markRead([numbered(message(5), 2)]);
      await store.markRead([numbered(message(1), 1)]);
      assert.deepEqual(await receipts(store), [
        { roomId: "!own:hs", eventId: "$e5", ts: message(5).ts },
      ]);
    });
  });

  await t.step("readers of two connections keep the later receipt", async () => {
    await withTwoConnections(async (a, b) => {
      await a.commitBatch([message(1), message(2)], "s1");
      await Promise.all([a.markRead([message(2)]), b.markRead([message(1)])]);
      assert.deepEqual(await receipts(a), [
        { roomId: "!own:hs", eventId: "$e2", ts: message(2).ts },
      ]);
    });
  });

  await t.step("settling clears a receipt, unless a reader moved it since", async () => {
    await withStore(async (store) => {
      await store.commitBatch([message(1), message(2)], "s1");
      await store.handedOver(await store.claim(1));
      const [first] = await store.pendingReceipts();
      await store.handedOver(await store.claim(1));
      await store.settleReceipt(first);
      assert.deepEqual((await receipts(store)).map((r) => r.eventId), ["$e2"]);
      const [second] = await store.pendingReceipts();
      await store.settleReceipt(second);
      assert.deepEqual(await receipts(store), []);
    });
  });
});

Deno.test("Store.claimMessages", async (t) => {
  await t.step("takes the chosen messages and leaves older ones unread", async () => {
    await withKv(async (kv) => {
      const store = new Store(kv, fakeTime().deps, "@me:hs");
      await store.commitBatch([1, 2, 3, 4].map((n) => message(n)), "s1");
      assert.deepEqual(ids(await store.claimMessages([message(2), message(4)])), ["$e2", "$e4"]);
      assert.deepEqual(ids(await store.unread()), ["$e1", "$e3"]);
    });
  });

  await t.step("a message taken by another reader is left out, the rest still taken", async () => {
    await withKv(async (kv) => {
      const store = new Store(kv, fakeTime().deps, "@me:hs");
      await store.commitBatch([1, 2, 3].map((n) => message(n)), "s1");
      assert.deepEqual(ids(await store.claim(1)), ["$e1"]);
      assert.deepEqual(ids(await store.claimMessages([1, 2, 3].map((n) => message(n)))), [
        "$e2",
        "$e3",
      ]);
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

Deno.test("a batch of large messages is stored in commits KV accepts", async () => {
  await withKv(async (kv) => {
    const store = new Store(kv, fakeTime().deps, "@me:hs");
    // Near the homeserver's 64 KB cap each: 25 of them are three times what one commit takes.
    const large = Array.from({ length: 25 }, (_, i) => message(i, { body: "x".repeat(60_000) }));
    assert.equal(await store.commitBatch(large, "s1"), 25);
    assert.equal((await store.unread()).length, 25);
    assert.equal(await store.syncToken(), "s1");
  });
});
