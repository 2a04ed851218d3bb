import assert from "node:assert/strict";
import { ExitCode, UsageError } from "../../src/errors.ts";
import { delivery, NotYetError, parseAwait } from "../../src/ops/delivery.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { call, commandHarness, V3 } from "../support/commands.ts";
import { opContext } from "../support/ops.ts";
import type { VirtualClock } from "../support/fakes.ts";

const ROOM = "!ann:hs.test";
const ME = "@bob:hs.test";
const event = (id: string, sender: string, ts: number, content: Record<string, unknown> = {}) => ({
  event_id: id,
  type: "m.room.message",
  sender,
  origin_server_ts: ts,
  content: { msgtype: "m.text", body: id, ...content },
});
const receipt = (eventId: string, userId: string) => ({
  type: "m.receipt",
  content: { [eventId]: { "m.read": { [userId]: { ts: 1 } } } },
});

/**
 * A homeserver whose room sync answers `pages` in turn (timeline events and
 * receipts); past the last, a long-poll waits out its timeout with nothing new.
 */
function server(
  pages: { events?: unknown[]; ephemeral?: unknown[] }[],
  clock?: () => VirtualClock,
) {
  let page = 0;
  return async (r: RecordedRequest) => {
    const route = call(r);
    if (route === `GET ${V3}/directory/room/#agents:hs.test`) return json({ room_id: "!space" });
    if (route === `GET ${V3}/rooms/!space/state`) {
      return json([{
        type: "dev.cchat.agent",
        state_key: "@ann:hs.test",
        sender: "@ann:hs.test",
        content: { name: "ann", room_id: ROOM },
      }]);
    }
    if (route === `GET ${V3}/rooms/${ROOM}/event/$earlier`) {
      return json(event("$earlier", "@ann:hs.test", 50));
    }
    if (route === `GET ${V3}/rooms/${ROOM}/event/$q`) return json(event("$q", ME, 100));
    if (route === `GET ${V3}/sync`) {
      if (page >= pages.length) {
        await clock?.().sleep(Number(r.url.searchParams.get("timeout")));
        return json({ next_batch: `s${page}` });
      }
      const { events = [], ephemeral = [] } = pages[page++];
      return json({
        next_batch: `s${page}`,
        rooms: { join: { [ROOM]: { timeline: { events }, ephemeral: { events: ephemeral } } } },
      });
    }
    return json({ errcode: "M_NOT_FOUND" }, 404);
  };
}

async function sentTo(h: Awaited<ReturnType<typeof commandHarness>>, to: string) {
  await h.login(ME);
  await h.store((s) => s.rememberSent("$q", { roomId: ROOM, to }), ME);
}

Deno.test("delivery: how far a sent message got", async (t) => {
  const question = event("$q", ME, 100);

  await t.step("only the recipient's receipt makes an agent's message read", async () => {
    await using h = await commandHarness(server([{
      events: [question],
      // A person watching the agent's room read it; the agent did not, yet.
      ephemeral: [receipt("$q", "@watcher:hs.test"), receipt("$earlier", "@ann:hs.test")],
    }]));
    await sentTo(h, "ann");
    const result = await h.clock.run(delivery(opContext(h).ctx, { eventId: "$q" }));
    assert.equal(result.state, "sent");
    assert.deepEqual(result.read_by, ["@watcher:hs.test"]);
  });

  await t.step("a receipt on a later event covers it; a reply answers it", async () => {
    const later = event("$later", "@carl:hs.test", 200);
    const answer = event("$a", "@ann:hs.test", 300, {
      "m.relates_to": { "m.in_reply_to": { event_id: "$q" } },
    });
    await using h = await commandHarness(server([
      { events: [question, later] },
      { ephemeral: [receipt("$later", "@ann:hs.test")] },
      { events: [answer] },
    ]));
    await sentTo(h, "ann");
    const { ctx } = opContext(h);
    const read = await h.clock.run(
      delivery(ctx, { eventId: "$q", await: { state: "read", timeoutMs: 60_000 } }),
    );
    assert.equal(read.state, "read");
    assert.deepEqual(read.read_by, ["@ann:hs.test"]);
    const answered = await h.clock.run(
      delivery(ctx, { eventId: "$q", await: { state: "answered", timeoutMs: 60_000 } }),
    );
    assert.equal(answered.state, "answered");
    assert.deepEqual(answered.answered_by, [{ event_id: "$a", sender: "@ann:hs.test" }]);
  });

  await t.step(
    "in the lobby anyone's reading counts; time up is exit 7 with the state",
    async () => {
      await using h = await commandHarness(server([{ events: [question] }], () => h.clock));
      await sentTo(h, "lobby");
      const waiting = delivery(opContext(h).ctx, {
        eventId: "$q",
        await: { state: "read", timeoutMs: 5_000 },
      });
      await assert.rejects(h.clock.run(waiting), (err: Error) => {
        assert.ok(err instanceof NotYetError);
        assert.equal(err.exitCode, ExitCode.timeout);
        assert.equal(err.result.state, "sent");
        assert.match(err.message, /"\$q" is sent, not read, after 5 s/);
        return true;
      });
    },
  );

  await t.step("each look is a sync of its own, never the server's cached answer", async () => {
    await using h = await commandHarness(server([{ events: [question] }]));
    await sentTo(h, "lobby");
    let n = 0;
    h.deps.random = () => (++n) / 10;
    const { ctx } = opContext(h);
    await h.clock.run(delivery(ctx, { eventId: "$q" }));
    await h.clock.run(delivery(ctx, { eventId: "$q" }));
    const filters = h.requests.filter((r) => call(r) === `GET ${V3}/sync`)
      .map((r) => r.url.searchParams.get("filter"));
    assert.equal(new Set(filters).size, 2);
  });

  await t.step("an id not sent from here is a usage error", async () => {
    await using h = await commandHarness(server([]));
    await h.login(ME);
    await assert.rejects(h.clock.run(delivery(opContext(h).ctx, { eventId: "$x" })), UsageError);
  });
});

Deno.test("parseAwait", async (t) => {
  await t.step("a state, with seconds or without", () => {
    assert.deepEqual(parseAwait("read"), { state: "read" });
    assert.deepEqual(parseAwait("answered:2.5"), { state: "answered", timeoutMs: 2_500 });
  });
  await t.step("anything else is a usage error that says what to give", () => {
    for (const spec of ["sent", "read:", "read:-1", "seen:3", "read:1e309"]) {
      assert.throws(() => parseAwait(spec), UsageError, spec);
    }
  });
});
