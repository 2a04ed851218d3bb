/** `cchat wait` through runCli, on virtual time. */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli.ts";
import { type CchatError, ExitCode, UsageError } from "../../src/errors.ts";
import { SAFETY_POLL_MS } from "../../src/ops/inbox.ts";
import { VirtualClock } from "../support/fakes.ts";
import { commandHarness, noRequests } from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";

const harness = commandHarness;
const message = inboxMessage;

Deno.test("wait", async (t) => {
  await t.step("a timeout that is not a finite number of seconds is a usage error", async () => {
    for (const timeout of ["1e309", "-1"]) {
      await using h = await harness();
      await h.login();
      await assert.rejects(h.cli("wait", "--timeout", timeout), (err: CchatError) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, /is not a number of seconds/);
        return true;
      });
    }
  });

  await t.step("a message whose output cannot be written stays unread", async () => {
    // The reader of stdout went away, as a pipe's reader does.
    const closed = {
      write(): void {
        throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
      },
    };
    for (const command of [["wait", "--timeout", "1"], ["inbox"]]) {
      await using h = await harness(noRequests, { stdout: closed });
      await h.login();
      await h.store((s) => s.commitBatch([message(1)], "s1"));
      await assert.rejects(h.cli(...command), Deno.errors.BrokenPipe);
      const unread = await h.store((s) => s.unread());
      assert.deepEqual(unread.map((m) => m.eventId), ["$m1"], command[0]);
      assert.deepEqual(await h.store((s) => s.pendingReceipts()), [], "no receipt for it");
    }
  });

  await t.step("--timeout 1 with an empty inbox exits 7 on virtual time", async () => {
    await using h = await harness();
    await h.login();
    const started = h.clock.time;
    const realStart = performance.now();
    assert.equal(await h.cli("wait", "--timeout", "1"), ExitCode.timeout);
    assert.equal(ExitCode.timeout, 7);
    assert.equal(h.stderr.text, "No message within 1 s.\n");
    assert.equal(h.stdout.text, "");
    assert.equal(h.clock.time - started, 1_000);
    // Only the safety net runs out: with no signal, nothing else wakes the reader.
    assert.deepEqual(h.clock.sleeps, [1_000]);
    assert.ok(performance.now() - realStart < 900, "no real waiting");
  });

  await t.step("the safety poll is slow, and its last look ends on the deadline", async () => {
    await using h = await harness();
    await h.login();
    const started = h.clock.time;
    assert.equal(await h.cli("wait", "--timeout", "12"), 7);
    assert.deepEqual(h.clock.sleeps, [SAFETY_POLL_MS, SAFETY_POLL_MS, 2_000]);
    assert.equal(h.clock.time - started, 12_000);
    assert.equal(h.stderr.text, "No message within 12 s.\n");
  });

  await t.step("the daemon's signal wakes the wait at once, with no poll", async () => {
    const clock = new VirtualClock();
    const rings: (() => void)[] = [];
    const hook: { store?: () => Promise<unknown> } = {};
    await using h = await harness(noRequests, {
      now: clock.now,
      sleep: async (ms, signal) => {
        // The message arrives, and the signal rings, while the reader waits.
        if (hook.store) {
          await hook.store();
          hook.store = undefined;
          for (const ring of rings.splice(0)) ring();
        }
        return await clock.sleep(ms, signal);
      },
      watchFile: (_path, signal) =>
        new Promise((resolve, reject) => {
          rings.push(resolve);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    });
    hook.store = () => h.store((s) => s.commitBatch([message(5)], "s5"));
    await h.login();
    const started = clock.time;
    assert.equal(await clock.run(runCli(["wait", "--timeout", "30"], h.deps)), 0);
    assert.deepEqual(h.stdout.lines, [
      "#1 [2024-01-02 03:04:05] @alice:hs.test (direct): note 5",
    ]);
    assert.equal(clock.time - started, 0, "no virtual time passed: no poll ran out");
    assert.deepEqual(clock.sleeps, [SAFETY_POLL_MS]);
  });

  await t.step("a waiting message is printed, marked read, exit 0", async () => {
    await using h = await harness();
    await h.login();
    await h.store((s) => s.commitBatch([message(2), message(1)], "s1"));
    assert.equal(await h.cli("wait"), 0);
    assert.deepEqual(h.stdout.lines, ["#2 [2024-01-02 03:04:01] @alice:hs.test (direct): note 1"]);
    assert.deepEqual((await h.store((s) => s.unread())).map((m) => m.eventId), ["$m2"]);
    assert.deepEqual(h.clock.sleeps, []);
  });

  await t.step("--json prints one message object", async () => {
    await using h = await harness();
    await h.login();
    await h.store((s) =>
      s.commitBatch([message(1, { msgtype: "m.notice", autoReply: false })], "s")
    );
    assert.equal(await h.cli("wait", "--json", "--timeout", "5"), 0);
    const printed = JSON.parse(h.stdout.text);
    assert.equal(printed.event_id, "$m1");
    assert.equal(printed.auto_reply, false);
  });

  await t.step(
    "a message written while waiting (by another connection) ends the wait",
    async () => {
      const clock = new VirtualClock();
      let polls = 0;
      const hook: { write?: () => Promise<unknown> } = {};
      await using h = await harness(noRequests, {
        sleep: async (ms, signal) => {
          if (++polls === 3) await hook.write?.();
          return await clock.sleep(ms, signal);
        },
        now: clock.now,
      });
      hook.write = () => h.store((s) => s.commitBatch([message(5)], "s5"));
      await h.login();
      const code = await clock.run(runCli(["wait", "--timeout", "30"], h.deps));
      assert.equal(code, 0);
      assert.deepEqual(h.stdout.lines, [
        "#1 [2024-01-02 03:04:05] @alice:hs.test (direct): note 5",
      ]);
      assert.equal(polls, 3);
      assert.deepEqual(await h.store((s) => s.unread()), []);
    },
  );

  await t.step("--timeout x is a usage error", async () => {
    await using h = await harness();
    await h.login();
    await assert.rejects(
      h.cli("wait", "--timeout", "x"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /"x" for timeout/);
        return true;
      },
    );
    await assert.rejects(
      h.cli("wait", "--timeout", "-3"),
      (negative: CchatError & { status?: number }) => {
        assert.ok(negative instanceof UsageError);
        return true;
      },
    );
  });
});
