/**
 * `cchat hook EVENT` against recorded Claude Code inputs (fixtures/hooks),
 * with a stored login and messages put into the store: no homeserver at all.
 */
import assert from "node:assert/strict";
import { MAX_INPUT_BYTES } from "../../src/commands/hook.ts";
import type { InboxMessage } from "../../src/store/types.ts";
import { type CchatError, ExitCode } from "../../src/errors.ts";
import { exitCodeOf } from "../../src/errors.ts";
import { BRIEFING_BODY_CHARS, BRIEFING_CHARS } from "../../src/ops/briefing.ts";
import { commandHarness } from "../support/commands.ts";
import { type Handler, json } from "../support/fakes.ts";
import { inboxMessage } from "../support/fixtures.ts";

const FIXTURES = new URL("./fixtures/hooks/", import.meta.url);

const fixture = (name: string) => Deno.readTextFile(new URL(`${name}.json`, FIXTURES));
const message = inboxMessage;

/** A homeserver that takes every message sent. */
const answering: Handler = () => json({ event_id: "$sent" });

/** A logged-in user whose homeserver fails any request: the hook must stay local. */
async function harness(handler?: Handler) {
  const h = await commandHarness(handler);
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

  await t.step(
    "a body over the cap is shown cut once, stays unread, and never nags again",
    async () => {
      await using h = await harness();
      const long = "x".repeat(BRIEFING_BODY_CHARS + 100);
      await h.put(message(1), message(2, { body: long }), message(3));
      assert.equal(await h.hook("PostToolUse", await fixture("PostToolUse")), 0);
      const lines = contextOf(h.answer(), "PostToolUse").split("\n");
      assert.deepEqual(lines[1], line(1, 1));
      assert.ok(
        lines[2].endsWith(
          `: ${
            "x".repeat(BRIEFING_BODY_CHARS - 1)
          }… (cut at ${BRIEFING_BODY_CHARS} of ${long.length} characters; the whole: cchat inbox --json)`,
        ),
      );
      assert.deepEqual(lines[3], line(3, 3));
      assert.equal(lines.length, 4);
      assert.deepEqual(await h.unread(), ["$m2"], "only the whole ones are read");
      // Shown once is enough: no later hook shows it, no Stop blocks on it; inbox still has it.
      h.stdout.text = "";
      assert.equal(await h.hook("PostToolUse", await fixture("PostToolUse")), 0);
      assert.equal(h.stdout.text, "");
      assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
      assert.equal(h.stdout.text, "");
      assert.equal(await h.cli("inbox", "--json"), 0);
      assert.equal(JSON.parse(h.stdout.text)[0].body, long);
    },
  );

  await t.step("a body up to the cap is shown whole and read", async () => {
    await using h = await harness();
    const long = "y".repeat(BRIEFING_BODY_CHARS);
    await h.put(message(1, { body: long }));
    assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
    assert.ok((h.answer()?.reason as string).includes(`: ${long}\n`));
    assert.deepEqual(await h.unread(), []);
  });

  await t.step("a message answered with reply never nags again", async () => {
    await using h = await harness(answering);
    await h.put(message(1, { body: "z".repeat(BRIEFING_BODY_CHARS + 1) }));
    assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
    assert.equal(h.answer()?.decision, "block");
    assert.deepEqual(await h.unread(), ["$m1"]);
    assert.equal(await h.cli("reply", "1", "done"), 0);
    assert.deepEqual(await h.unread(), [], "answered is read");
    h.stdout.text = "";
    assert.equal(await h.hook("Stop", await fixture("Stop")), 0);
    assert.equal(h.stdout.text, "");
  });

  await t.step("control characters are escaped: one message, one line", async () => {
    await using h = await harness();
    await h.put(message(1, { body: "two\nlines\tand \x1b[31mred\x1b[0m\u2028end" }));
    assert.equal(await h.hook("UserPromptSubmit", await fixture("UserPromptSubmit")), 0);
    const context = contextOf(h.answer(), "UserPromptSubmit");
    assert.equal(
      context.split("\n")[1],
      "#1 [2024-01-02 03:04:01] @alice:hs.test (direct): two\\nlines\\tand \\x1b[31mred\\x1b[0m\\u2028end",
    );
    assert.doesNotMatch(context.replaceAll("\n", ""), /[\p{Cc}\u2028\u2029]/u);
  });

  await t.step("the context stays under 9,000 characters in the worst case", async () => {
    await using h = await harness();
    const sender = `@${"s".repeat(240)}:hs.test`;
    await h.put(
      ...Array.from({ length: 8 }, (_, i) =>
        message(i + 1, {
          sender,
          // Escaped six times as long: two such messages fill the whole room.
          body: "\x00".repeat(Math.floor((BRIEFING_CHARS / 2 - sender.length) / 6)),
          route: "mention",
          msgtype: "m.notice",
          autoReply: false,
        })),
    );
    assert.equal(await h.hook("UserPromptSubmit", await fixture("UserPromptSubmit")), 0);
    const context = contextOf(h.answer(), "UserPromptSubmit");
    assert.ok(context.length < 9_000, `${context.length} characters`);
    assert.match(context, /^cchat: 8 unread messages:\n/);
    assert.match(context, /\n6 more unread: run cchat inbox$/);
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
      /^Answer them before you stop: cchat reply ID TEXT.*MCP send tool with reply/,
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

Deno.test("hook: input it cannot use never blocks (exit 1, never 2)", async (t) => {
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
  ];
  for (const [label, event, input, expected] of cases) {
    await t.step(label, async () => {
      await using h = await harness();
      await h.put(message(1));
      await assert.rejects(h.hook(event, await input()), (err: CchatError) => {
        assert.equal(err.exitCode, ExitCode.failure);
        assert.notEqual(exitCodeOf(err), 2);
        assert.match(err.message, expected);
        return true;
      });
      assert.equal(h.stdout.text, "");
      assert.deepEqual(await h.unread(), ["$m1"], "nothing was read");
    });
  }

  await t.step("a command line the parser refuses exits 1 too", async () => {
    await using h = await harness();
    for (const args of [[], ["Stop", "extra"]]) {
      await assert.rejects(h.cliWithStdin("{}", "hook", ...args), (err: CchatError) => {
        assert.equal(exitCodeOf(err), ExitCode.failure, args.join(" "));
        return true;
      });
    }
  });

  await t.step("the hint lists the events", async () => {
    await using h = await harness();
    await assert.rejects(h.hook("stop", "{}"), (err: CchatError) => {
      assert.match(err.hint ?? "", /UserPromptSubmit, PostToolUse, Stop, SubagentStop/);
      return true;
    });
  });

  await t.step("input for an event cchat does not answer: nothing at all", async () => {
    await using h = await harness();
    await h.put(message(1));
    const input = JSON.stringify({ hook_event_name: "PreCompact", trigger: "auto" });
    assert.equal(await h.hook("Stop", input), 0);
    assert.equal(h.stdout.text, "");
    assert.deepEqual(await h.unread(), ["$m1"]);
  });
});

Deno.test("hook: what Claude Code really sends", async (t) => {
  await t.step("a subagent's stop sent to hook Stop respects stop_hook_active", async () => {
    await using h = await harness();
    await h.put(message(1));
    const active = { ...JSON.parse(await fixture("Stop")), hook_event_name: "SubagentStop" };
    assert.equal(await h.hook("Stop", JSON.stringify({ ...active, stop_hook_active: true })), 0);
    assert.equal(h.stdout.text, "");
    assert.deepEqual(await h.unread(), ["$m1"]);
    assert.equal(await h.hook("Stop", JSON.stringify(active)), 0);
    assert.equal(h.answer()?.decision, "block");
  });

  await t.step("hook SubagentStop is a stop too", async () => {
    await using h = await harness();
    await h.put(message(1));
    const input = { ...JSON.parse(await fixture("Stop")), hook_event_name: "SubagentStop" };
    assert.equal(await h.hook("SubagentStop", JSON.stringify(input)), 0);
    assert.equal(h.answer()?.decision, "block");
  });

  await t.step("input for another event it answers is answered as that event", async () => {
    await using h = await harness();
    await h.put(message(1));
    assert.equal(await h.hook("Stop", await fixture("PostToolUse")), 0);
    assert.match(contextOf(h.answer(), "PostToolUse"), /^cchat: 1 unread message:/);
  });

  await t.step(
    "PostToolUse after a large file was written: over 1 MB of input is fine",
    async () => {
      await using h = await harness();
      await h.put(message(1));
      const input = JSON.parse(await fixture("PostToolUse"));
      input.tool_response = { content: "c".repeat(3 * MAX_INPUT_BYTES) };
      assert.equal(await h.hook("PostToolUse", JSON.stringify(input)), 0);
      assert.match(contextOf(h.answer(), "PostToolUse"), /note 1$/);
    },
  );

  await t.step("a Stop whose input is too large to read never blocks", async () => {
    await using h = await harness();
    await h.put(message(1));
    const input = JSON.stringify({ hook_event_name: "Stop", pad: "p".repeat(MAX_INPUT_BYTES) });
    assert.equal(await h.hook("Stop", input), 0);
    assert.equal(h.stdout.text, "");
  });
});
