import assert from "node:assert/strict";
import {
  AppserviceFeed,
  type RoomEvents,
  TransactionHeldBack,
} from "../../src/daemon/appservice_feed.ts";
import { FleetBoot } from "../../src/daemon/fleet_boot.ts";
import type { MatrixEvent } from "../../src/matrix/types.ts";
import { AppliedTransactions } from "../../src/store/applied_transactions.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { fakeTime, withKv } from "../support/kv.ts";

const message = (id: string, roomId: string): MatrixEvent => ({
  event_id: id,
  type: "m.room.message",
  sender: "@human:x",
  origin_server_ts: 1,
  room_id: roomId,
  content: { msgtype: "m.text", body: id },
});

const member = (id: string, roomId: string, userId: string, membership: string): MatrixEvent => ({
  event_id: id,
  type: "m.room.member",
  sender: userId,
  state_key: userId,
  origin_server_ts: 1,
  room_id: roomId,
  content: { membership },
});

/** A feed for agents a and b, and what each was handed. */
async function withFeed(
  body: (
    feed: AppserviceFeed,
    got: Record<string, RoomEvents[]>,
    stop: AbortController,
  ) => Promise<void>,
) {
  await withKv(async (kv) => {
    const { deps } = fakeTime();
    const stop = new AbortController();
    const feed = new AppserviceFeed({
      applied: new AppliedTransactions(kv, deps, "fleet"),
      attached: new FleetBoot(["a", "b"], () => new Promise(() => {})),
      signal: stop.signal,
      now: deps.now,
    });
    const got: Record<string, RoomEvents[]> = { a: [], b: [] };
    await body(feed, got, stop);
  });
}

/** Keeps what the agent is handed in `into`, committed at once. */
const keep = (into: RoomEvents[]) => (rooms: RoomEvents) => {
  into.push(rooms);
  return Promise.resolve();
};

const ids = (batches: RoomEvents[]) =>
  batches.map((rooms) => rooms.map(([roomId, events]) => [roomId, events.map((e) => e.event_id)]));

Deno.test("AppserviceFeed", async (t) => {
  await t.step("hands each agent the events of the rooms it is joined to, in order", async () => {
    await withFeed(async (feed, got) => {
      feed.attach("a", "@a:x", ["!lobby", "!a"], keep(got.a));
      feed.attach("b", "@b:x", ["!lobby"], keep(got.b));
      await feed.apply("1", [
        message("$1", "!lobby"),
        message("$2", "!a"),
        message("$3", "!elsewhere"),
        message("$4", "!lobby"),
        { ...message("$5", "!lobby"), room_id: undefined },
      ]);
      assert.deepEqual(ids(got.a), [[["!lobby", ["$1", "$4"]], ["!a", ["$2"]]]]);
      assert.deepEqual(ids(got.b), [[["!lobby", ["$1", "$4"]]]]);
    });
  });
  await t.step("follows the agents' joins and leaves, from the event on", async () => {
    await withFeed(async (feed, got) => {
      feed.attach("a", "@a:x", [], keep(got.a));
      feed.attach("b", "@b:x", ["!r"], keep(got.b));
      await feed.apply("1", [
        message("$before", "!r"),
        member("$join", "!r", "@a:x", "join"),
        message("$after", "!r"),
        member("$leave", "!r", "@b:x", "leave"),
        message("$last", "!r"),
        // Someone else's join changes nothing for the agents.
        member("$human", "!r", "@human:x", "join"),
      ]);
      assert.deepEqual(ids(got.a), [[["!r", ["$join", "$after", "$leave", "$last", "$human"]]]]);
      // As a sync would: a room the agent left is no longer among its joined rooms.
      assert.deepEqual(ids(got.b), [[["!r", ["$before", "$join", "$after"]]]]);
    });
  });
  await t.step("waits until every agent attached or left; applies a transaction once", async () => {
    await withFeed(async (feed, got) => {
      feed.attach("a", "@a:x", ["!lobby"], keep(got.a));
      let done = false;
      const applying = feed.apply("1", [message("$1", "!lobby")]).then(() => done = true);
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(done, false, "applied before b attached or left");
      feed.leave("b");
      await applying;
      await feed.apply("1", [message("$1", "!lobby")]);
      assert.deepEqual(ids(got.a), [[["!lobby", ["$1"]]]]);
    });
  });
  await t.step(
    "an agent that failed to commit fails the transaction; it is applied again",
    async () => {
      await withFeed(async (feed, got) => {
        let fail = true;
        feed.attach(
          "a",
          "@a:x",
          ["!lobby"],
          (rooms) => fail ? Promise.reject(new Error("disk full")) : keep(got.a)(rooms),
        );
        const detach = feed.attach(
          "b",
          "@b:x",
          ["!lobby"],
          keep(got.b),
        );
        await assert.rejects(feed.apply("1", [message("$1", "!lobby")]), /disk full/);
        fail = false;
        await feed.apply("1", [message("$1", "!lobby")]);
        assert.deepEqual(ids(got.a), [[["!lobby", ["$1"]]]]);
        // b may be handed it twice: its inbox keeps each event once.
        assert.ok(got.b.length >= 1);
        // A detached agent is handed nothing more.
        detach();
        await feed.apply("2", [message("$2", "!lobby")]);
        assert.equal(ids(got.b).flat(3).includes("$2"), false);
      });
    },
  );
  await t.step("a numbered transaction that skips one is refused once", async () => {
    await withFeed(async (feed, got) => {
      feed.attach("a", "@a:x", ["!lobby"], keep(got.a));
      feed.leave("b");
      await feed.apply("5", [message("$5", "!lobby")]);
      await assert.rejects(feed.apply("7", [message("$7", "!lobby")]), TransactionHeldBack);
      await feed.apply("6", [message("$6", "!lobby")]);
      await feed.apply("7", [message("$7", "!lobby")]);
      // Pushed again with nothing before it waiting: taken.
      await assert.rejects(feed.apply("9", [message("$9", "!lobby")]), /came before 8/);
      await feed.apply("9", [message("$9", "!lobby")]);
      assert.deepEqual(ids(got.a).flat().map(([, events]) => events).flat(), [
        "$5",
        "$6",
        "$7",
        "$9",
      ]);
    });
  });
  await t.step("knows when the homeserver last reached it", async () => {
    await withFeed((feed) => {
      assert.equal(feed.heardAt, null);
      feed.heard();
      assert.equal(typeof feed.heardAt, "number");
      return Promise.resolve();
    });
  });
  await t.step(
    "notes the homeserver in trouble when a request fails on the way or with a 5xx",
    async () => {
      await withKv(async (kv) => {
        const { deps } = fakeTime();
        const feed = new AppserviceFeed({
          applied: new AppliedTransactions(kv, deps, "fleet"),
          attached: new FleetBoot([], deps.sleep),
          signal: new AbortController().signal,
          now: deps.now,
        });
        const answering = (status: number) =>
          feed.watch(() => Promise.resolve(new Response(null, { status })));
        const failing = (error: Error) => feed.watch(() => Promise.reject(error));
        const troubleAfter = async (request: () => Promise<unknown>) => {
          deps.time += 1000;
          await request().catch(() => {});
          return feed.troubleAt === deps.now();
        };
        assert.equal(feed.troubleAt, null);
        assert.equal(await troubleAfter(() => answering(200)("http://hs")), false);
        assert.equal(await troubleAfter(() => answering(429)("http://hs")), false);
        assert.equal(await troubleAfter(() => answering(502)("http://hs")), true);
        assert.equal(
          await troubleAfter(() => failing(new TypeError("refused"))("http://hs")),
          true,
        );
        // Called off by the fleet: no news of the homeserver.
        const stopped = new DOMException("stopped", "AbortError");
        assert.equal(await troubleAfter(() => failing(stopped)("http://hs")), false);
        // No answer in time, as the transport gives up on one.
        const http = new MatrixHttp({
          baseUrl: "http://hs",
          requestTimeoutMs: 5,
          deps: {
            ...deps,
            fetch: feed.watch((_input, init) =>
              new Promise((_, reject) =>
                init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
              )
            ),
          },
        });
        assert.equal(await troubleAfter(() => http.request("GET", "/x")), true);
      });
    },
  );
  await t.step("a stop ends the wait for the agents", async () => {
    await withFeed(async (feed, _got, stop) => {
      const applying = feed.apply("1", []);
      stop.abort(new Error("stopped"));
      await assert.rejects(applying, /stopped/);
    });
  });
});
