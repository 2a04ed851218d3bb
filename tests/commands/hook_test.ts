/**
 * `cchat hook EVENT` against recorded Claude Code inputs (fixtures/hooks),
 * with a stored login and messages put into the store: no homeserver at all.
 */
import assert from "node:assert/strict";
import { MAX_INPUT_BYTES } from "../../src/commands/hook.ts";
import type { InboxMessage } from "../../src/daemon/types.ts";
import { type CchatError, ExitCode, UsageError } from "../../src/errors.ts";
import { BRIEFING_BODY_CHARS } from "../../src/ops/briefing.ts";
import { commandHarness } from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";

const FIXTURES = new URL("./fixtures/hooks/", import.meta.url);

const fixture = (name: string) => Deno.readTextFile(new URL(`${name}.json`, FIXTURES));
const message = inboxMessage;

/** A logged-in user whose homeserver fails any request: the hook must stay local. */
async function harness() {
  const h = await commandHarness();
  await h.login();
  return Object.assign(h, {
    /** Runs `cchat hook EVENT` with `input` on stdin. */
    hook: (event: string, input: string) => h.cliWithStdin(input, "hook", event),
    /** The answer printed, parsed; undefined when the hook printed nothing. */
    answer(): Record<string, unknown> | undefined {
      return h.stdout.text === "" ? undefined : JSON.parse(h.stdout.text);
    },
    put: (...messages: InboxMessage[]) => h.store((s) => s.commitBatch(messages, "s1")),
    unread: async () => (await h.store((s) => s.unread())).map((m) => m.eventId),
  });
}

/** A message's line in plain output; `id` is its place in the order it was stored. */
const line = (n: number, id: number, route = "direct") =>
  `#${id} [2024-01-02 03:04:0${n}] @alice:hs.test (${route}): note ${n}`;

/** The additionalContext of a hookSpecificOutput answer, after checking its event name. */
function contextOf(answer: Record<string, unknown> | undefined, event: string): string {
  const output = answer?.hookSpecificOutput as Record<string, unknown>;
  assert.deepEqual(Object.keys(answer ?? {}), ["hookSpecificOutput"]);
  assert.equal(output.hookEventName, event);
  return output.additionalContext as string;
}

Deno.test("hook UserPromptSubmit and PostToolUse", async (t) => {
  for (const event of ["UserPromptSubmit", "PostToolUse"]) {
    await t.step(`${event} with nothing unread prints nothing`, async () => {
      await using h = await harness();
      assert.equal(await h.hook(event, await fixture(event)), 0);
      assert.equal(h.stdout.text, "");
      assert.equal(h.requests.length, 0);
    });

    await t.step(`${event} with seven unread shows the count and the first five`, async () => {
      await using h = await harness();
      await h.put(...[7, 6, 5, 4, 3, 2, 1].map((n) => message(n)));
      assert.equal(await h.hook(event, await fixture(event)), 0);
      assert.equal(h.stdout.lines.length, 1, "one JSON document");
      assert.equal(
        contextOf(h.answer(), event),
        [
          "cchat: 7 unread messages:",
          ...[1, 2, 3, 4, 5].map((n) => line(n, 8 - n)),
          "2 more unread: run cchat inbox",
        ]
          .join("\n"),
      );
      assert.deepEqual(await h.unread(), ["$m6", "$m7"], "the five shown are read");
      assert.equal(h.requests.length, 0);
    });
  }

  await t.step("one unread message: no plural, no note about more", async () => {
    await using h = await harness();
    await h.put(message(1, { route: "broadcast", msgtype: "m.notice", autoReply: false }));
    assert.equal(await h.hook("UserPromptSubmit", await fixture("UserPromptSubmit")), 0);
    assert.equal(
      contextOf(h.answer(), "UserPromptSubmit"),
      "cchat: 1 unread message:\n" +
        "#1 [2024-01-02 03:04:01] @alice:hs.test (broadcast, notice: do not auto-reply): note 1",
    );
    assert.deepEqual(await h.unread(), []);
  });

  await t.step("a body cut short is shown as an excerpt and stays unread", async () => {
    await using h = await harness();
    const long = "x".repeat(BRIEFING_BODY_CHARS + 100);
    await h.put(message(1), message(2, { body: long }), message(3));
    assert.equal(await h.hook("PostToolUse", await fixture("PostToolUse")), 0);
    const lines = contextOf(h.answer(), "PostToolUse").split("\n");
    assert.deepEqual(lines[1], line(1, 1));
    assert.ok(
      lines[2].endsWith(`: ${"x".repeat(BRIEFING_BODY_CHARS - 1)}… (cut short, still unread)`),
    );
    assert.deepEqual(lines[3], line(3, 3));
    assert.equal(lines[4], "1 more unread: run cchat inbox");
    assert.deepEqual(await h.unread(), ["$m2"], "only the whole ones are read");
  });

  await t.step("control characters are escaped: one message, one line", async () => {
    await using h = await harness();
    await h.put(message(1, { body: "two\nlines\tand \x1b[31mred\x1b[0m\u2028end" }));
    assert.equal(await h.hook("UserPromptSubmit", await fixture("UserPromptSubmit")), 0);
    const context = contextOf(h.answer(), "UserPromptSubmit");
    assert.equal(
      context.split("\n")[1],
      "#1 [2024-01-02 03:04:01] @alice:hs.test (direct): two\\nlines\\tand \\u001b[31mred\\u001b[0m\\u2028end",
    );
    assert.doesNotMatch(context.replaceAll("\n", ""), /[\p{Cc}\u2028\u2029]/u);
  });

  await t.step("the context stays under 4,000 characters in the worst case", async () => {
    await using h = await harness();
    const sender = `@${"s".repeat(240)}:hs.test`;
    await h.put(
      ...Array.from({ length: 8 }, (_, i) =>
        message(i + 1, {
          sender,
          body: "\x00".repeat(1000),
          route: "mention",
          msgtype: "m.notice",
          autoReply: false,
        })),
    );
    assert.equal(await h.hook("UserPromptSubmit", await fixture("UserPromptSubmit")), 0);
    const context = contextOf(h.answer(), "UserPromptSubmit");
    assert.ok(context.length < 4_000, `${context.length} characters`);
    assert.match(context, /^cchat: 8 unread messages:\n/);
    assert.match(context, /\n8 more unread: run cchat inbox$/);
  });
});

Deno.test("hook Stop", async (t) => {
  await t.step("with nothing unread it lets the agent stop", async () => {
    await using h = await harness();
    assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
    assert.equal(h.stdout.text, "");
  });

  await t.step("broadcasts and notices do not block, and stay unread", async () => {
    await using h = await harness();
    await h.put(
      message(1, { route: "broadcast" }),
      message(2, { msgtype: "m.notice", autoReply: false }),
      message(3, { route: "mention", msgtype: "m.notice", autoReply: false }),
    );
    assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
    assert.equal(h.stdout.text, "");
    assert.deepEqual(await h.unread(), ["$m1", "$m2", "$m3"]);
  });

  await t.step("a direct message and a mention block the stop, and are read", async () => {
    await using h = await harness();
    await h.put(message(1, { route: "broadcast" }), message(2), message(3, { route: "mention" }));
    assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
    const answer = h.answer();
    assert.deepEqual(Object.keys(answer ?? {}), ["decision", "reason"]);
    assert.equal(answer?.decision, "block");
    const reason = (answer?.reason as string).split("\n");
    assert.equal(reason[0], "cchat: 2 unread messages for you (direct or mentioning you):");
    assert.deepEqual(reason.slice(1, 3), [line(2, 2), line(3, 3, "mention")]);
    assert.match(
      reason[3],
      /^Answer them before you stop: cchat reply ID TEXT.*MCP reply tool/,
    );
    assert.equal(reason.length, 4);
    assert.deepEqual(await h.unread(), ["$m1"], "the broadcast is left for the inbox");
  });

  await t.step("stop_hook_active true never blocks, and reads nothing", async () => {
    await using h = await harness();
    await h.put(message(1));
    assert.equal(await h.hook("Stop", await fixture("Stop-active")), 0);
    assert.equal(h.stdout.text, "");
    assert.deepEqual(await h.unread(), ["$m1"]);
  });
});

Deno.test("hook with bad input is a usage error (exit 2)", async (t) => {
  const cases: [string, string, () => Promise<string>, RegExp][] = [
    [
      "an unknown event",
      "SessionStart",
      () => fixture("Stop"),
      /"SessionStart" is not a hook event/,
    ],
    ["input that is not JSON", "Stop", () => Promise.resolve("stop"), /not a JSON object/],
    ["a JSON array", "Stop", () => Promise.resolve("[]"), /not a JSON object/],
    ["JSON null", "Stop", () => Promise.resolve("null"), /not a JSON object/],
    ["empty input", "PostToolUse", () => Promise.resolve(""), /not a JSON object/],
    [
      "input for another event",
      "Stop",
      () => fixture("PostToolUse"),
      /is for "PostToolUse", not "Stop"/,
    ],
    [
      "input over 1 MB",
      "UserPromptSubmit",
      () => Promise.resolve(JSON.stringify({ prompt: "p".repeat(MAX_INPUT_BYTES) })),
      /over 1000000 bytes/,
    ],
  ];
  for (const [label, event, input, expected] of cases) {
    await t.step(label, async () => {
      await using h = await harness();
      await h.put(message(1));
      await assert.rejects(h.hook(event, await input()), (err: CchatError) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.equal(err.exitCode, ExitCode.usage);
        assert.match(err.message, expected);
        return true;
      });
      assert.equal(h.stdout.text, "");
      assert.deepEqual(await h.unread(), ["$m1"], "nothing was read");
    });
  }

  await t.step("the hint lists the events", async () => {
    await using h = await harness();
    await assert.rejects(h.hook("stop", "{}"), (err: CchatError) => {
      assert.match(err.hint ?? "", /UserPromptSubmit, PostToolUse, Stop/);
      return true;
    });
  });
});
