/** `cchat send` and `cchat reply` through runCli, against a fake homeserver. */
import assert from "node:assert/strict";
import { CchatError, ConfigError, UsageError } from "../../src/errors.ts";
import { MAX_CONTENT_BYTES } from "../../src/ops/send.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import {
  agentRoomHomeserver,
  call,
  commandHarness,
  HS,
  noRequests,
  stdinOf,
  V3,
} from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";

const harness = commandHarness;
const message = inboxMessage;

Deno.test("send checks its input before any request", async (t) => {
  const cases: [string, string[], RegExp][] = [
    ["an empty message", ["send", ""], /^The message is empty\.$/],
    ["a blank message", ["send", "  \n "], /^The message is empty\.$/],
    [
      "an oversize message",
      ["send", "x".repeat(MAX_CONTENT_BYTES + 1)],
      new RegExp(
        `^The message is \\d+ bytes; the homeserver takes at most ${MAX_CONTENT_BYTES}\\.$`,
      ),
    ],
    [
      "an oversize message in multi-byte characters",
      ["send", "é".repeat(MAX_CONTENT_BYTES / 2)],
      /bytes; the homeserver takes at most 64000\./,
    ],
    ["a bad --to name", ["send", "--to", "Bad Name", "hi"], /agent name "Bad Name"/],
    ["the reserved --to lobby", ["send", "--to", "lobby", "hi"], /reserved for the shared lobby/],
    ["an empty --to", ["send", "--to", "", "hi"], /The agent name is empty\./],
  ];
  for (const [label, args, message] of cases) {
    await t.step(`${label} is a usage error`, async () => {
      await using h = await harness();
      await h.login();
      await assert.rejects(h.cli(...args), (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError, `${label}: ${err}`);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, message);
        return true;
      });
      assert.equal(h.requests.length, 0, "no request was made");
      assert.equal(h.stdout.text, "");
    });
  }

  await t.step("64,000 bytes of content is still accepted (up to the session)", async () => {
    await using h = await harness();
    // No login: getting as far as the session check proves the size passed.
    const overhead = JSON.stringify({ msgtype: "m.text", body: "", "m.mentions": {} }).length;
    await assert.rejects(
      h.cli("send", "y".repeat(MAX_CONTENT_BYTES - overhead)),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof ConfigError);
        return true;
      },
    );
  });

  await t.step('"-" refuses stdin that is not UTF-8, before any request', async () => {
    const stdin = stdinOf(new Uint8Array([0x6f, 0x6b, 0xff, 0x0a]));
    await using h = await harness(noRequests, { stdin });
    await h.login();
    await assert.rejects(h.cli("send", "-"), (err: Error) => {
      assert.ok(err instanceof UsageError, `${err}`);
      assert.equal(err.message, "Standard input is not valid UTF-8.");
      return true;
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step('"-" reads the text from stdin, dropping one final newline', async () => {
    const stdin = stdinOf("from stdin\n");
    await using h = await harness(
      (r) => r.method === "GET" ? json({ room_id: "!lobby:hs.test" }) : json({ event_id: "$s" }),
      { stdin },
    );
    await h.login();
    assert.equal(await h.cli("send", "-"), 0);
    assert.equal((h.requests.at(-1)!.body as { body: string }).body, "from stdin");
  });
});

/** A homeserver that knows the lobby and the agent "builder", and accepts sends. */
const homeserver = (options: { whoami?: string; firstSend?: number } = {}) =>
  agentRoomHomeserver({ name: "builder", owner: "@builder:hs.test", ...options });

Deno.test("send", async (t) => {
  await t.step("with CCHAT_ACCESS_TOKEN, a whoami comes first", async () => {
    await using h = await harness(homeserver({ whoami: "@carol:hs.test" }));
    h.env.CCHAT_HOMESERVER = HS;
    h.env.CCHAT_ACCESS_TOKEN = "env-token";
    assert.equal(await h.cli("send", "hello lobby"), 0);
    assert.deepEqual(h.requests.map(call).slice(0, 2), [
      `GET ${V3}/account/whoami`,
      `GET ${V3}/directory/room/#agents-lobby:hs.test`,
    ]);
    assert.equal(h.requests.length, 3);
    assert.match(call(h.requests[2]), /^PUT .*\/rooms\/!lobby:hs\.test\/send\/m\.room\.message\//);
    for (const r of h.requests) assert.equal(r.headers.get("authorization"), "Bearer env-token");
    assert.deepEqual(h.requests[2].body, {
      msgtype: "m.text",
      body: "hello lobby",
      "m.mentions": {},
    });
    assert.equal(h.stdout.text, "$sent1\n");
  });

  await t.step("with a stored login there is no whoami, and the lobby id is cached", async () => {
    await using h = await harness(homeserver());
    await h.login();
    assert.equal(await h.cli("send", "one"), 0);
    assert.equal(await h.cli("send", "two"), 0);
    assert.deepEqual(h.requests.map((r) => r.method), ["GET", "PUT", "PUT"]);
    assert.equal(call(h.requests[0]), `GET ${V3}/directory/room/#agents-lobby:hs.test`);
    assert.equal(h.stdout.text, "$sent1\n$sent2\n");
  });

  await t.step("--to, --notice, --reply with --json", async () => {
    await using h = await harness(homeserver());
    await h.login();
    assert.equal(
      await h.cli("send", "--json", "--to", "builder", "--notice", "--reply", "$p", "done"),
      0,
    );
    assert.deepEqual(JSON.parse(h.stdout.text), {
      event_id: "$sent1",
      room_id: "!builder:hs.test",
      to: "builder",
    });
    const put = h.requests.at(-1)!;
    assert.match(call(put), /\/rooms\/!builder:hs\.test\/send\//);
    assert.deepEqual(put.body, {
      msgtype: "m.notice",
      body: "done",
      "m.mentions": {},
      "m.relates_to": { "m.in_reply_to": { event_id: "$p" } },
    });
  });

  await t.step("a 403 on send joins through our server and resends the same txn", async () => {
    await using h = await harness(homeserver({ firstSend: 403 }));
    await h.login();
    assert.equal(await h.cli("send", "--to", "builder", "hi"), 0);
    const [sent, join, resent] = h.requests.slice(-3);
    assert.match(call(sent), /^PUT .*\/send\//);
    assert.equal(call(join), `POST ${V3}/join/!builder:hs.test`);
    assert.equal(join.url.searchParams.get("via"), "hs.test");
    assert.equal(call(sent), call(resent), "the retry reuses the transaction id");
    assert.equal(h.stdout.text, "$sent2\n");
  });

  await t.step("an unknown --to agent names the agent", async () => {
    await using h = await harness((r) => {
      const p = decodeURIComponent(r.url.pathname);
      if (p.startsWith(`${V3}/join/`)) return json({ errcode: "M_NOT_FOUND", error: "no" }, 404);
      return json({ errcode: "M_NOT_FOUND", error: "no" }, 404);
    });
    await h.login();
    await assert.rejects(
      h.cli("send", "--to", "ghost", "hi"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof CchatError);
        assert.equal(err.message, 'No agent is called "ghost".');
        assert.match(err.hint ?? "", /cchat who/);
        return true;
      },
    );
    assert.ok(!h.requests.some((r) => r.url.pathname.includes("/send/")), "nothing was sent");
  });
});

Deno.test("replies go to the room of the message they answer", async (t) => {
  /** A session whose inbox holds $m1 in the agent's room and $m2 in a thread of another room. */
  async function withInbox() {
    const h = await harness(homeserver());
    await h.login();
    await h.store((s) =>
      s.commitBatch([
        message(1),
        message(2, { roomId: "!other:hs.test", threadRoot: "$root", sender: "@carol:hs.test" }),
      ], "s1")
    );
    return h;
  }
  const put = (h: { requests: RecordedRequest[] }) => {
    const sends = h.requests.filter((r) => r.method === "PUT");
    assert.equal(sends.length, 1);
    assert.equal(h.requests.length, 1, "no lookup of a room alias");
    return { path: call(sends[0]), body: sends[0].body };
  };

  await t.step("reply ID answers by short id, as a rich reply in the message's room", async () => {
    await using h = await withInbox();
    assert.equal(await h.cli("reply", "1", "answer"), 0);
    const sent = put(h);
    assert.match(sent.path, /^PUT .*\/rooms\/!own:hs\.test\/send\/m\.room\.message\//);
    assert.deepEqual(sent.body, {
      msgtype: "m.text",
      body: "answer",
      // The sender of the message answered, so the reply reaches its inbox wherever it is.
      "m.mentions": { user_ids: ["@alice:hs.test"] },
      "m.relates_to": { "m.in_reply_to": { event_id: "$m1" } },
    });
    assert.equal(h.stdout.text, "$sent1\n");
    // The daemon takes replies to what this agent sent as meant for it.
    assert.deepEqual([...await h.store((s) => s.sentOf(["$sent1", "$m1"]))], ["$sent1"]);
  });

  await t.step("a reply stays in the thread of the message it answers", async () => {
    await using h = await withInbox();
    assert.equal(await h.cli("reply", "--json", "--notice", "#2", "in thread"), 0);
    const sent = put(h);
    assert.match(sent.path, /\/rooms\/!other:hs\.test\/send\//);
    assert.deepEqual(sent.body, {
      msgtype: "m.notice",
      body: "in thread",
      "m.mentions": { user_ids: ["@carol:hs.test"] },
      "m.relates_to": {
        rel_type: "m.thread",
        event_id: "$root",
        is_falling_back: false,
        "m.in_reply_to": { event_id: "$m2" },
      },
    });
    assert.deepEqual(JSON.parse(h.stdout.text), {
      event_id: "$sent1",
      room_id: "!other:hs.test",
      to: "@carol:hs.test",
    });
  });

  await t.step("a read message is still answered, by its event id", async () => {
    await using h = await withInbox();
    await h.store((s) => s.claim());
    assert.equal(await h.cli("send", "--reply", "$m1", "late answer"), 0);
    assert.match(put(h).path, /\/rooms\/!own:hs\.test\/send\//);
  });

  await t.step("send --thread ID without --to starts a thread at the message", async () => {
    await using h = await withInbox();
    assert.equal(await h.cli("send", "--thread", "1", "thread start"), 0);
    const sent = put(h);
    assert.match(sent.path, /\/rooms\/!own:hs\.test\/send\//);
    assert.deepEqual((sent.body as Record<string, unknown>)["m.relates_to"], {
      rel_type: "m.thread",
      event_id: "$m1",
      is_falling_back: true,
      "m.in_reply_to": { event_id: "$m1" },
    });
  });

  for (
    const [label, args, message, hint] of [
      [
        "an unknown short id",
        ["reply", "99", "hi"],
        'No message "99" is in the inbox.',
        /inbox --peek/,
      ],
      [
        "send --reply of an unknown event id",
        ["send", "--reply", "$gone", "hi"],
        'No message "$gone" is in the inbox.',
        /inbox --peek/,
      ],
      ["an id that is neither", ["reply", "abc", "hi"], '"abc" is not a message id.', /"\$…"/],
      [
        "--reply and --thread in different rooms",
        ["send", "--reply", "1", "--thread", "2", "hi"],
        'The messages "1" and "2" are in different rooms.',
        /--to NAME/,
      ],
    ] as const
  ) {
    await t.step(`${label} is a usage error and nothing is sent`, async () => {
      await using h = await withInbox();
      await assert.rejects(h.cli(...args), (err: CchatError) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, message);
        assert.match(err.hint ?? "", hint);
        return true;
      });
      assert.deepEqual(h.requests, []);
    });
  }
});
