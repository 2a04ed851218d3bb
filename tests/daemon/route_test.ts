import assert from "node:assert/strict";
import { route, type RouteContext, type Verdict } from "../../src/daemon/route.ts";
import { needsHtmlText, stripReplyFallback } from "../../src/matrix/message_text.ts";
import { htmlText } from "../../src/matrix/html_text.ts";
import type { InboxMessage } from "../../src/store/types.ts";
import type { MatrixEvent } from "../../src/matrix/types.ts";

const ME = "@me:hs";
const OWN = "!own:hs";
const LOBBY = "!lobby:hs";
const OTHER = "!other:hs";

const ctx: RouteContext = {
  userId: ME,
  roomId: OWN,
  lobbyId: LOBBY,
  allowedServers: new Set(["hs", "friend.org"]),
};

function event(overrides: Partial<MatrixEvent> = {}, content: Record<string, unknown> = {}) {
  return {
    event_id: "$e1",
    type: "m.room.message",
    sender: "@bob:hs",
    origin_server_ts: 1_700_000_000_123,
    content: { msgtype: "m.text", body: "hello", ...content },
    ...overrides,
  } satisfies MatrixEvent;
}

function inbox(verdict: Verdict): InboxMessage {
  assert.equal(verdict.kind, "inbox", `expected an inbox verdict, got ${verdict.kind}`);
  return (verdict as { kind: "inbox"; message: InboxMessage }).message;
}

Deno.test("route: what never reaches the inbox", async (t) => {
  await t.step("the agent's own echo is ignored, even in its own room", () => {
    assert.deepEqual(route(event({ sender: ME }), OWN, ctx), { kind: "ignored" });
    assert.deepEqual(route(event({ sender: ME }), LOBBY, ctx), { kind: "ignored" });
  });

  await t.step("events that are not messages are ignored", () => {
    for (const type of ["m.room.member", "m.reaction", "dev.cchat.heartbeat", "m.room.name"]) {
      assert.deepEqual(route(event({ type }), OWN, ctx), { kind: "ignored" }, type);
    }
  });

  await t.step("a message without a string body or msgtype is ignored", () => {
    const noBody = event({ content: { msgtype: "m.text" } });
    const noType = event({ content: { body: "hi" } });
    const numericBody = event({ content: { msgtype: "m.text", body: 5 } });
    const redacted = event({ content: {} });
    for (const e of [noBody, noType, numericBody, redacted]) {
      assert.deepEqual(route(e, OWN, ctx), { kind: "ignored" });
    }
  });

  await t.step("a sender from a server that is not allowed is dropped", () => {
    assert.deepEqual(route(event({ sender: "@eve:evil.org" }), OWN, ctx), {
      kind: "dropped-sender",
    });
    assert.deepEqual(route(event({ sender: "@eve:evil.org" }), LOBBY, ctx), {
      kind: "dropped-sender",
    });
  });

  await t.step("a server of another allowed list entry is let in", () => {
    assert.equal(route(event({ sender: "@amy:friend.org" }), OWN, ctx).kind, "inbox");
  });

  await t.step("an empty allowlist drops everyone", () => {
    const closed = { ...ctx, allowedServers: new Set<string>() };
    assert.deepEqual(route(event(), OWN, closed), { kind: "dropped-sender" });
  });

  await t.step("a malformed sender id is dropped", () => {
    for (const sender of ["bob", "bob:hs", "@bob", "@bob:"]) {
      assert.deepEqual(route(event({ sender }), OWN, ctx), { kind: "dropped-sender" }, sender);
    }
  });

  await t.step("another room without a mention is ignored", () => {
    assert.deepEqual(route(event(), OTHER, ctx), { kind: "ignored" });
    const someoneElse = event({}, { "m.mentions": { user_ids: ["@other:hs"] } });
    assert.deepEqual(route(someoneElse, OTHER, ctx), { kind: "ignored" });
    const malformed = event({}, { "m.mentions": { user_ids: ME } });
    assert.deepEqual(route(malformed, OTHER, ctx), { kind: "ignored" });
    const notAnObject = event({}, { "m.mentions": "@me:hs" });
    assert.deepEqual(route(notAnObject, OTHER, ctx), { kind: "ignored" });
  });

  await t.step("a body that only names the agent is not a mention", () => {
    assert.deepEqual(route(event({}, { body: "hey @me:hs" }), OTHER, ctx), { kind: "ignored" });
  });
});

Deno.test("route: how a message reaches the inbox", async (t) => {
  await t.step("the agent's own room is direct, with every field", () => {
    assert.deepEqual(inbox(route(event(), OWN, ctx)), {
      eventId: "$e1",
      roomId: OWN,
      route: "direct",
      sender: "@bob:hs",
      body: "hello",
      msgtype: "m.text",
      ts: 1_700_000_000_123,
      autoReply: true,
    });
  });

  await t.step("a mention in the own room is still direct", () => {
    const e = event({}, { "m.mentions": { user_ids: [ME] } });
    assert.equal(inbox(route(e, OWN, ctx)).route, "direct");
  });

  await t.step("the lobby is a broadcast", () => {
    const m = inbox(route(event(), LOBBY, ctx));
    assert.equal(m.route, "broadcast");
    assert.equal(m.roomId, LOBBY);
  });

  await t.step("a lobby message mentioning the agent is a mention", () => {
    const e = event({}, { "m.mentions": { user_ids: ["@x:hs", ME] } });
    assert.equal(inbox(route(e, LOBBY, ctx)).route, "mention");
  });

  await t.step("a mention in any other room is a mention", () => {
    const e = event({}, { "m.mentions": { user_ids: [ME] } });
    const m = inbox(route(e, OTHER, ctx));
    assert.equal(m.route, "mention");
    assert.equal(m.roomId, OTHER);
  });

  await t.step("in lobby-only mode (no own room) the lobby is still a broadcast", () => {
    const lobbyOnly = { ...ctx, roomId: null };
    assert.equal(inbox(route(event(), LOBBY, lobbyOnly)).route, "broadcast");
    assert.deepEqual(route(event(), OWN, lobbyOnly), { kind: "ignored" });
  });

  await t.step("m.notice must not be answered automatically; other types may", () => {
    const notice = inbox(route(event({}, { msgtype: "m.notice" }), OWN, ctx));
    assert.equal(notice.autoReply, false);
    assert.equal(notice.msgtype, "m.notice");
    const emote = inbox(route(event({}, { msgtype: "m.emote" }), OWN, ctx));
    assert.equal(emote.autoReply, true);
  });

  await t.step("a reply carries replyTo", () => {
    const e = event({}, { "m.relates_to": { "m.in_reply_to": { event_id: "$parent" } } });
    const m = inbox(route(e, OWN, ctx));
    assert.equal(m.replyTo, "$parent");
    assert.equal(m.threadRoot, undefined);
  });

  await t.step("a threaded reply carries threadRoot and replyTo", () => {
    const e = event({}, {
      "m.relates_to": {
        rel_type: "m.thread",
        event_id: "$root",
        is_falling_back: false,
        "m.in_reply_to": { event_id: "$inner" },
      },
    });
    const m = inbox(route(e, OWN, ctx));
    assert.equal(m.threadRoot, "$root");
    assert.equal(m.replyTo, "$inner");
  });

  await t.step("a thread message without a reply fallback carries only threadRoot", () => {
    const e = event({}, { "m.relates_to": { rel_type: "m.thread", event_id: "$root" } });
    const m = inbox(route(e, OWN, ctx));
    assert.equal(m.threadRoot, "$root");
    assert.equal(m.replyTo, undefined);
  });

  await t.step("the reply fallback of a plain thread message is not a reply", () => {
    const e = event({}, {
      "m.relates_to": {
        rel_type: "m.thread",
        event_id: "$root",
        is_falling_back: true,
        "m.in_reply_to": { event_id: "$root" },
      },
    });
    const m = inbox(route(e, OWN, ctx));
    assert.equal(m.threadRoot, "$root");
    assert.equal(m.replyTo, undefined);
  });

  await t.step("other relations and malformed ones carry neither", () => {
    const annotation = event({}, {
      "m.relates_to": { rel_type: "m.annotation", event_id: "$x" },
    });
    const bad = event({}, { "m.relates_to": { "m.in_reply_to": { event_id: 3 } } });
    const notObject = event({}, { "m.relates_to": "nope" });
    for (const e of [annotation, bad, notObject]) {
      const m = inbox(route(e, OWN, ctx));
      assert.equal(m.replyTo, undefined);
      assert.equal(m.threadRoot, undefined);
    }
  });
});

Deno.test("route: a reply to one of the agent's own messages is meant for it", async (t) => {
  const reply = (to: string) =>
    event({}, { "m.relates_to": { "m.in_reply_to": { event_id: to } } });
  const sentByMe = new Set(["$mine"]);

  await t.step("in another room, without a mention, it is a mention", () => {
    const message = inbox(route(reply("$mine"), OTHER, { ...ctx, sentByMe }));
    assert.equal(message.route, "mention");
    assert.equal(message.replyTo, "$mine");
  });

  await t.step("in the lobby it asks this agent, not everyone: a mention", () => {
    assert.equal(inbox(route(reply("$mine"), LOBBY, { ...ctx, sentByMe })).route, "mention");
  });

  await t.step("a reply to someone else's message elsewhere is not for it", () => {
    assert.deepEqual(route(reply("$theirs"), OTHER, { ...ctx, sentByMe }), { kind: "ignored" });
    assert.equal(inbox(route(reply("$theirs"), LOBBY, { ...ctx, sentByMe })).route, "broadcast");
  });
});

Deno.test("route: edits and redactions", async (t) => {
  await t.step("a redaction withdraws the message it names, wherever it is", () => {
    const redaction = { ...event({ type: "m.room.redaction" }), redacts: "$gone" };
    assert.deepEqual(route(redaction, OTHER, ctx), { kind: "withdrawn", eventId: "$gone" });
    // Room version 11 moved it into the content.
    const v11 = event({ type: "m.room.redaction" }, { redacts: "$gone" });
    assert.deepEqual(route(v11, OWN, ctx), { kind: "withdrawn", eventId: "$gone" });
    assert.deepEqual(route(event({ type: "m.room.redaction" }), OWN, ctx), { kind: "ignored" });
  });

  await t.step('an edit carries the new text and names the original, not "* …"', () => {
    const edit = event({}, {
      body: "* fixed text",
      "m.new_content": { msgtype: "m.text", body: "fixed text" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
    });
    const message = inbox(route(edit, OWN, ctx));
    assert.equal(message.body, "fixed text");
    assert.equal(message.editOf, "$orig");
    assert.equal(message.replyTo, undefined);
  });

  await t.step("an edit without new content is an ordinary message", () => {
    const odd = event({}, { "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } });
    const message = inbox(route(odd, OWN, ctx));
    assert.equal(message.body, "hello");
    assert.equal(message.editOf, undefined);
  });
});

Deno.test("route: what an agent reads of a message a client formatted", async (t) => {
  const reply = { "m.relates_to": { "m.in_reply_to": { event_id: "$parent" } } };

  await t.step("a reply arrives without the quote of the message it answers", () => {
    const e = event({}, {
      ...reply,
      body: "> <@me:hs> Can you run the tests?\n> They take a while\n\nYes, all green.",
      format: "org.matrix.custom.html",
      formatted_body:
        "<mx-reply><blockquote>Can you run the tests?</blockquote></mx-reply>Yes, all green.",
    });
    assert.equal(inbox(route(e, OWN, ctx)).body, "Yes, all green.");
  });

  await t.step("only a reply loses its leading quote: a plain quote stays", () => {
    const quoted = "> to be or not\n\nthat is it";
    assert.equal(inbox(route(event({}, { body: quoted }), OWN, ctx)).body, quoted);
    assert.equal(stripReplyFallback("no quote\n> later"), "no quote\n> later");
    assert.equal(stripReplyFallback("> a\n> b\ntext"), "text");
  });

  await t.step("a message whose HTML alone says something reaches the agent as text", () => {
    const e = event({}, {
      body: "",
      format: "org.matrix.custom.html",
      formatted_body:
        '<h2>Status</h2><ul><li><strong>build</strong> ok</li><li>see <a href="https://ci.example/1">run 1</a></li></ul><p>ask <a href="https://matrix.to/#/@me:hs">me</a></p>',
    });
    assert.equal(needsHtmlText(e), true);
    const text = inbox(route(e, OWN, { ...ctx, htmlText })).body;
    assert.match(text, /^Status\n/);
    assert.match(text, /\* build ok/);
    assert.match(text, /run 1 \[https:\/\/ci\.example\/1\]/);
    assert.match(text, /ask me$/);
    assert.equal(text.includes("<"), false);
  });

  await t.step("a body that says it all is read as written, and needs no HTML reader", () => {
    const e = event({}, {
      body: "**bold**",
      format: "org.matrix.custom.html",
      formatted_body: "<strong>bold</strong>",
    });
    assert.equal(needsHtmlText(e), false);
    assert.equal(inbox(route(e, OWN, { ...ctx, htmlText })).body, "**bold**");
  });
});
