import assert from "node:assert/strict";
import { agentView, messageView } from "../../src/ops/views.ts";
import { agent, MESSAGE } from "../support/fixtures.ts";

Deno.test("agentView uses snake_case keys", () => {
  assert.deepEqual(agentView(agent("amy")), {
    name: "amy",
    status: "online",
    last_beat_age_ms: 5000,
    host: "box",
    version: "0.1.0",
    user_id: "@amy:hs",
    room_id: "!amy",
    room_alias: "#agents-amy:hs",
  });
});

Deno.test("messageView", async (t) => {
  await t.step("snake_case keys, null for absent relations", () => {
    assert.deepEqual(messageView(MESSAGE), {
      id: null,
      event_id: "$ev1",
      room_id: "!own:hs",
      route: "direct",
      sender: "@bob:hs",
      sender_name: null,
      body: "build is green",
      msgtype: "m.text",
      ts: 1_700_000_000_987,
      auto_reply: true,
      reply_to: null,
      thread_root: null,
      hidden_characters: false,
      edit_of: null,
      edited: false,
    });
  });
  await t.step("the sender's agent name, when the daemon knew it", () => {
    assert.equal(messageView({ ...MESSAGE, senderName: "bob" }).sender_name, "bob");
  });
  await t.step("relations and the notice flag", () => {
    const json = messageView({
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
    for (const key of Object.keys(messageView(MESSAGE))) {
      assert.match(key, /^[a-z_]+$/, key);
    }
  });
});
