/** `cchat inbox` through runCli: a fake homeserver, virtual time and temp XDG directories. */
import assert from "node:assert/strict";
import { type CchatError, ConfigError, ExitCode, UsageError } from "../../src/errors.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { BOB, call, commandHarness, HS, V3 } from "../support/commands.ts";
import { inboxMessage } from "../support/fixtures.ts";

const harness = commandHarness;
const message = inboxMessage;

Deno.test("inbox without a session", async (t) => {
  await t.step("no login, with a homeserver: Not logged in (exit 3)", async () => {
    await using h = await harness();
    h.env.CCHAT_HOMESERVER = HS;
    await assert.rejects(h.cli("inbox"), (err: CchatError & { status?: number }) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, "Not logged in.");
      assert.equal(err.exitCode, ExitCode.config);
      assert.match(err.hint ?? "", /cchat login/);
      return true;
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step("no login at all: Not logged in, with no homeserver needed (exit 3)", async () => {
    await using h = await harness();
    await assert.rejects(h.cli("inbox"), (err: CchatError & { status?: number }) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, "Not logged in.");
      assert.equal(err.exitCode, 3);
      return true;
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step("a sender with a token but no homeserver: No homeserver is configured", async () => {
    await using h = await harness();
    h.env.CCHAT_ACCESS_TOKEN = "t";
    await assert.rejects(h.cli("send", "hi"), (err: CchatError & { status?: number }) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, "No homeserver is configured.");
      assert.match(err.hint ?? "", /CCHAT_HOMESERVER/);
      return true;
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step("a bad --limit is a usage error before anything else", async () => {
    await using h = await harness();
    await assert.rejects(
      h.cli("inbox", "--limit", "0"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /"0"/);
        return true;
      },
    );
  });

  for (const value of ["0", "-5", "abc", "2147484"]) {
    await t.step(
      `daemon --interval ${value} is a usage error, CCHAT_HEARTBEAT_INTERVAL a config error`,
      async () => {
        await using h = await harness();
        await h.login();
        await assert.rejects(h.cli("daemon", "--name", "a", "--interval", value), (err: Error) => {
          assert.ok(err instanceof UsageError, `${err}`);
          assert.equal(
            err.message.includes(`the --interval flag is "${value}"`),
            true,
            err.message,
          );
          return true;
        });
        h.env.CCHAT_HEARTBEAT_INTERVAL = value;
        await assert.rejects(h.cli("daemon", "--name", "a"), (err: Error) => {
          assert.ok(err instanceof ConfigError, `${err}`);
          return true;
        });
        assert.equal(h.requests.length, 0);
      },
    );
  }
});

Deno.test("readers with a token from the environment stay local", async (t) => {
  const whoami = (r: RecordedRequest) => {
    if (call(r) === `GET ${V3}/account/whoami`) return json({ user_id: BOB });
    throw new Error(`unexpected request ${call(r)}`);
  };

  await t.step("a token nobody here has asked about is refused, with no request", async () => {
    await using h = await harness(whoami);
    h.env.CCHAT_HOMESERVER = HS;
    h.env.CCHAT_ACCESS_TOKEN = "env-token";
    await assert.rejects(h.cli("inbox"), (err: CchatError) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, "Whose access token CCHAT_ACCESS_TOKEN is, is not known here yet.");
      assert.match(err.hint ?? "", /cchat status/);
      return true;
    });
    assert.deepEqual(h.requests, []);
  });

  await t.step("once a session asked the server, inbox and wait make no request", async () => {
    await using h = await harness(whoami);
    h.env.CCHAT_HOMESERVER = HS;
    h.env.CCHAT_ACCESS_TOKEN = "env-token";
    // Any command that talks to the server learns whose token it is: here, a status.
    await h.cli("status").catch(() => {});
    assert.ok(h.requests.some((r) => call(r) === `GET ${V3}/account/whoami`));
    const asked = h.requests.length;
    h.stdout.text = "";
    await h.store((s) => s.commitBatch([message(1)], "s1"));
    assert.equal(await h.cli("inbox"), 0);
    assert.equal(h.stdout.lines.length, 1);
    await h.store((s) => s.commitBatch([message(2)], "s2"));
    assert.equal(await h.cli("inbox"), 0);
    assert.equal(await h.cli("wait", "--timeout", "0"), 7);
    assert.equal(h.requests.length, asked, "the readers asked the server nothing");
    assert.ok(
      !(await Deno.readTextFile(`${h.dataDir}/cchat.kv`).catch(() => "")).includes(
        "env-token",
      ),
    );
  });
});

Deno.test("inbox with a stored login", async (t) => {
  /** A logged-in user with three unread messages, stored out of order. */
  async function withThree() {
    const h = await harness();
    await h.login();
    await h.store((s) => s.commitBatch([message(3), message(1), message(2)], "s1"));
    return h;
  }

  await t.step("--peek prints every unread message, oldest first, and leaves them", async () => {
    await using h = await withThree();
    assert.equal(await h.cli("inbox", "--peek"), 0);
    assert.deepEqual(h.stdout.lines, [
      "#2 [2024-01-02 03:04:01] @alice:hs.test (direct): note 1",
      "#3 [2024-01-02 03:04:02] @alice:hs.test (direct): note 2",
      "#1 [2024-01-02 03:04:03] @alice:hs.test (direct): note 3",
    ]);
    assert.equal((await h.store((s) => s.unread())).length, 3);
  });

  await t.step("--json --limit 2 prints a JSON array of two and marks them read", async () => {
    await using h = await withThree();
    assert.equal(await h.cli("inbox", "--json", "--limit", "2"), 0);
    const printed = JSON.parse(h.stdout.text) as Record<string, unknown>[];
    assert.equal(h.stdout.lines.length, 1);
    assert.equal(printed.length, 2);
    assert.deepEqual(printed.map((m) => m.event_id), ["$m1", "$m2"]);
    assert.equal(printed[0].auto_reply, true);
    assert.equal(printed[0].room_id, "!own:hs.test");
    assert.deepEqual(
      (await h.store((s) => s.unread())).map((m) => m.eventId),
      ["$m3"],
    );
  });

  await t.step("inbox shows what is left unread and marks it read", async () => {
    await using h = await withThree();
    await h.store(async (s) => s.markRead((await s.unread()).slice(0, 2)));
    assert.equal(await h.cli("inbox"), 0);
    assert.deepEqual(h.stdout.lines, ["#1 [2024-01-02 03:04:03] @alice:hs.test (direct): note 3"]);
    assert.deepEqual(await h.store((s) => s.unread()), []);
  });

  await t.step("a read message is kept for CCHAT_INBOX_RETENTION", async () => {
    await using h = await withThree();
    h.env.CCHAT_INBOX_RETENTION = "90";
    assert.equal(await h.cli("inbox", "--limit", "1"), 0);
    const kv = await Deno.openKv(`${h.dataDir}/cchat.kv`);
    try {
      const read = await kv.get<{ expiresAt?: number }>(["user", BOB, "msg", "$m1"]);
      assert.equal(read.value?.expiresAt, h.clock.time + 90_000);
      const unread = await kv.get<{ expiresAt?: number }>(["user", BOB, "msg", "$m2"]);
      assert.equal(unread.value?.expiresAt, undefined);
    } finally {
      kv.close();
    }
  });

  await t.step("an empty inbox says so on stderr and prints no data", async () => {
    await using h = await harness();
    await h.login();
    assert.equal(await h.cli("inbox"), 0);
    assert.equal(h.stdout.text, "");
    assert.equal(h.stderr.text, "No unread messages.\n");
    assert.equal(await h.cli("inbox", "--json"), 0);
    assert.equal(h.stdout.text, "[]\n");
  });

  await t.step("a stored login needs no request to the homeserver", async () => {
    await using h = await withThree();
    assert.equal(await h.cli("inbox"), 0);
    assert.equal(h.stdout.lines.length, 3);
    assert.equal(h.requests.length, 0);
  });

  await t.step("another user's inbox in the same file is not shown", async () => {
    await using h = await harness();
    await h.login();
    await h.store((s) => s.commitBatch([message(9)], "c1"), "@carol:hs.test");
    assert.equal(await h.cli("inbox", "--json", "--peek"), 0);
    assert.equal(h.stdout.text, "[]\n");
  });
});

Deno.test("the data directory is private to its user", async (t) => {
  const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;
  /** The modes of the KV file and, while a connection holds them open, its -wal and -shm. */
  async function kvModes(dataDir: string): Promise<number[]> {
    const path = `${dataDir}/cchat.kv`;
    const kv = await Deno.openKv(path);
    try {
      await kv.set(["probe"], 1);
      return [await mode(path), await mode(`${path}-wal`), await mode(`${path}-shm`)];
    } finally {
      kv.close();
    }
  }

  await t.step("inbox creates the directory 0700 and the KV files 0600", async () => {
    await using h = await harness();
    await h.login();
    assert.equal(await h.cli("inbox"), 0);
    assert.equal(await mode(h.dataDir), 0o700);
    assert.deepEqual(await kvModes(h.dataDir), [0o600, 0o600, 0o600]);
  });

  await t.step("a directory and KV file made wider before are tightened", async () => {
    await using h = await harness();
    await h.login();
    await h.store((s) => s.commitBatch([message(1)], "s1"));
    await Deno.chmod(h.dataDir, 0o755);
    await Deno.chmod(`${h.dataDir}/cchat.kv`, 0o644);
    assert.equal(await h.cli("inbox", "--peek"), 0);
    assert.equal(await mode(h.dataDir), 0o700);
    assert.deepEqual(await kvModes(h.dataDir), [0o600, 0o600, 0o600]);
  });

  await t.step("a data directory under a regular file is a config error naming it", async () => {
    await using h = await harness();
    await h.login();
    await Deno.writeTextFile(`${h.env.HOME}/state`, "not a directory");
    await assert.rejects(h.cli("inbox"), (err: CchatError) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.exitCode, ExitCode.config);
      assert.ok(err.message.includes(`"${h.dataDir}"`), err.message);
      assert.match(err.hint ?? "", /CCHAT_DATA_DIR/);
      assert.match(err.hint ?? "", /XDG_STATE_HOME/);
      return true;
    });
  });

  await t.step({
    name: "a data directory under a read-only parent is a config error naming it",
    // Root writes through any mode.
    ignore: Deno.uid() === 0,
    fn: async () => {
      await using h = await harness();
      await h.login();
      await Deno.mkdir(`${h.env.HOME}/state`, { mode: 0o500 });
      try {
        await assert.rejects(h.cli("inbox"), (err: CchatError) => {
          assert.ok(err instanceof ConfigError);
          assert.ok(err.message.includes(`"${h.dataDir}"`), err.message);
          return true;
        });
      } finally {
        await Deno.chmod(`${h.env.HOME}/state`, 0o700);
      }
    },
  });
});

Deno.test("ack through the CLI", async (t) => {
  await t.step("prints what it read; --json gives the document", async () => {
    await using h = await harness();
    await h.login();
    await h.store((s) => s.commitBatch([message(1), message(2)], "s1"));
    assert.equal(await h.cli("ack", "1"), 0);
    assert.equal(h.stdout.lines.length, 1);
    assert.equal(h.stdout.lines[0], 'read: #1 "$m1"');
    h.stdout.text = "";
    assert.equal(await h.cli("ack", "--json", "1", "2"), 0);
    const result = JSON.parse(h.stdout.text);
    assert.deepEqual(result.acknowledged.map((m: { event_id: string }) => m.event_id), ["$m2"]);
    assert.deepEqual(result.already_read, ["$m1"]);
  });

  await t.step("no id is a usage error (exit 2)", async () => {
    await using h = await harness();
    await h.login();
    await assert.rejects(h.cli("ack"), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.usage);
      assert.equal(err.message, "No message id was given.");
      return true;
    });
  });
});
