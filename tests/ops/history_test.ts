import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import { history } from "../../src/ops/history.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { call, commandHarness, V3 } from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";
import { opContext } from "../support/ops.ts";

const LOBBY = "!lobby:hs.test";
const ROOM = "!own:hs.test";

const message = (id: string, sender: string, content: Record<string, unknown>, ts = 1) => ({
  event_id: id,
  type: "m.room.message",
  sender,
  origin_server_ts: ts,
  content: { msgtype: "m.text", ...content },
});

/** A homeserver whose lobby and thread hold `events`, newest first as it serves them. */
function server(events: unknown[]) {
  return (r: RecordedRequest) => {
    const route = call(r);
    if (route === `GET ${V3}/directory/room/#agents-lobby:hs.test`) return json({ room_id: LOBBY });
    if (route === `GET ${V3}/directory/room/#agents:hs.test`) {
      return json({ room_id: "!space:hs.test" });
    }
    if (route === `GET ${V3}/rooms/!space:hs.test/state`) {
      return json([{
        type: "dev.cchat.agent",
        state_key: "@ann:hs.test",
        sender: "@ann:hs.test",
        content: { name: "ann", room_id: "!ann:hs.test" },
      }]);
    }
    if (route === `GET ${V3}/rooms/${LOBBY}/messages`) return json({ chunk: events });
    if (route === `GET ${V3}/rooms/${ROOM}/event/$root`) {
      return json(message("$root", "@bob:hs.test", { body: "which release?" }));
    }
    if (route === `GET /_matrix/client/v1/rooms/${ROOM}/relations/$root/m.thread`) {
      return json({ chunk: events });
    }
    return json({ errcode: "M_NOT_FOUND" }, 404);
  };
}

Deno.test("history reads a room as people read it", async (t) => {
  const events = [
    message("$edit-by-other", "@eve:hs.test", {
      body: "* pwned",
      "m.new_content": { body: "pwned" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$1" },
    }, 5),
    message("$edit", "@ann:hs.test", {
      body: "* ship monday",
      "m.new_content": { msgtype: "m.text", body: "ship monday" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$1" },
    }, 4),
    message("$html", "@bob:hs.test", {
      body: "",
      format: "org.matrix.custom.html",
      formatted_body: "<p><strong>done</strong></p>",
    }, 3),
    message("$reply", "@bob:hs.test", {
      body: "> <@ann:hs.test> ship friday\n\nagreed\u202e",
      "m.relates_to": { "m.in_reply_to": { event_id: "$1" } },
    }, 2),
    { ...message("$gone", "@bob:hs.test", {}, 1), content: {} },
    message("$1", "@ann:hs.test", { body: "ship friday" }, 1),
  ];

  await t.step(
    "oldest first: edits applied by their sender only, quotes and HTML read",
    async () => {
      await using h = await commandHarness(server(events));
      await h.login();
      const read = await h.clock.run(history(opContext(h).ctx));
      assert.equal(read.room_id, LOBBY);
      assert.deepEqual(read.messages.map((m) => [m.event_id, m.sender_name, m.body, m.edited]), [
        ["$1", "ann", "ship monday", true],
        ["$reply", null, "agreed\u202e", false],
        ["$html", null, "done", false],
      ]);
      assert.equal(read.messages[1].reply_to, "$1");
      assert.equal(read.messages[1].hidden_characters, true);
    },
  );

  await t.step("a thread of an inbox message: its root first, in the message's room", async () => {
    const replies = [message("$r1", "@ann:hs.test", {
      body: "1.5",
      "m.relates_to": { rel_type: "m.thread", event_id: "$root" },
    }, 7)];
    await using h = await commandHarness(server(replies));
    await h.login();
    await h.store((s) =>
      s.commitBatch([inboxMessage(1, { eventId: "$r0", threadRoot: "$root" })], "s1")
    );
    const read = await h.clock.run(history(opContext(h).ctx, { thread: 1, limit: 5 }));
    assert.equal(read.room_id, ROOM);
    assert.equal(read.thread_root, "$root");
    assert.deepEqual(read.messages.map((m) => [m.event_id, m.thread_root]), [
      ["$root", null],
      ["$r1", "$root"],
    ]);
  });

  await t.step(
    "a Space this account may not read yet names nobody; the history comes",
    async () => {
      const answer = server(events);
      await using h = await commandHarness((r) =>
        call(r) === `GET ${V3}/rooms/!space:hs.test/state`
          ? json({ errcode: "M_FORBIDDEN", error: "not a member" }, 403)
          : answer(r)
      );
      await h.login();
      const read = await h.clock.run(history(opContext(h).ctx));
      assert.deepEqual(read.messages.map((m) => m.sender_name), [null, null, null]);
    },
  );

  await t.step(
    "a limit out of range, or a bad room name, is refused before any request",
    async () => {
      await using h = await commandHarness(server([]));
      await h.login();
      for (const options of [{ limit: 0 }, { limit: 101 }, { limit: 2.5 }, { room: "Bad Name" }]) {
        await assert.rejects(h.clock.run(history(opContext(h).ctx, options)), UsageError);
      }
      assert.equal(h.requests.length, 0);
    },
  );
});
