import assert from "node:assert/strict";
import { formatMessage, messageJson, parseLimit } from "../../src/commands/inbox.ts";
import type { InboxMessage } from "../../src/daemon/store.ts";
import { ExitCode, UsageError } from "../../src/errors.ts";

const MESSAGE: InboxMessage = {
  eventId: "$ev1",
  roomId: "!own:hs",
  route: "direct",
  sender: "@bob:hs",
  body: "build is green",
  msgtype: "m.text",
  // 2023-11-14T22:13:20.987Z
  ts: 1_700_000_000_987,
  autoReply: true,
};

Deno.test("parseLimit", async (t) => {
  await t.step("no limit is Infinity", () => {
    assert.equal(parseLimit(undefined), Infinity);
  });
  await t.step("a whole number of at least 1", () => {
    assert.equal(parseLimit("3"), 3);
    assert.equal(parseLimit("1"), 1);
    assert.equal(parseLimit("250"), 250);
  });
  for (const raw of ["0", "x", "1.5", "-2", ""]) {
    await t.step(`"${raw}" is a usage error naming the value`, () => {
      let caught: unknown;
      try {
        parseLimit(raw);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof UsageError, `"${raw}" was accepted`);
      assert.equal(caught.exitCode, ExitCode.usage);
      assert.equal(caught.exitCode, 2);
      assert.equal(caught.message, `The limit "${raw}" is not a whole number of at least 1.`);
      assert.equal(caught.hint, "For example --limit 10.");
    });
  }
});

Deno.test("formatMessage", async (t) => {
  await t.step("an ISO-like UTC timestamp to the second, sender, route and body", () => {
    assert.equal(
      formatMessage(MESSAGE),
      "[2023-11-14 22:13:20] @bob:hs (direct): build is green",
    );
  });
  await t.step("each route is shown", () => {
    assert.match(formatMessage({ ...MESSAGE, route: "broadcast" }), /\(broadcast\): /);
    assert.match(formatMessage({ ...MESSAGE, route: "mention" }), /\(mention\): /);
  });
  await t.step("a notice is flagged as not to be answered automatically", () => {
    assert.equal(
      formatMessage({ ...MESSAGE, route: "broadcast", msgtype: "m.notice", autoReply: false }),
      "[2023-11-14 22:13:20] @bob:hs (broadcast, notice: do not auto-reply): build is green",
    );
  });
  await t.step("the epoch is formatted too", () => {
    assert.equal(
      formatMessage({ ...MESSAGE, ts: 0 }),
      "[1970-01-01 00:00:00] @bob:hs (direct): build is green",
    );
  });
});

Deno.test("messageJson", async (t) => {
  await t.step("snake_case keys, null for absent relations", () => {
    assert.deepEqual(messageJson(MESSAGE), {
      event_id: "$ev1",
      room_id: "!own:hs",
      route: "direct",
      sender: "@bob:hs",
      body: "build is green",
      msgtype: "m.text",
      ts: 1_700_000_000_987,
      auto_reply: true,
      reply_to: null,
      thread_root: null,
    });
  });
  await t.step("relations and the notice flag", () => {
    const json = messageJson({
      ...MESSAGE,
      msgtype: "m.notice",
      autoReply: false,
      replyTo: "$parent",
      threadRoot: "$root",
    });
    assert.equal(json.auto_reply, false);
    assert.equal(json.reply_to, "$parent");
    assert.equal(json.thread_root, "$root");
    assert.equal(json.msgtype, "m.notice");
  });
  await t.step("no camelCase key leaks out", () => {
    for (const key of Object.keys(messageJson(MESSAGE))) {
      assert.match(key, /^[a-z_]+$/, key);
    }
  });
});
