/**
 * The commands that need a logged-in session, driven through runCli with a
 * fake homeserver (fakeFetch), virtual time, and temp XDG directories.
 */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli.ts";
import { credentialsPath, readCredentials, writeCredentials } from "../../src/credentials.ts";
import type { DaemonRecords } from "../../src/store/daemon_records.ts";
import type { Deps } from "../../src/deps.ts";
import { CchatError, ConfigError, ExitCode, UsageError } from "../../src/errors.ts";
import { MAX_CONTENT_BYTES } from "../../src/ops/send.ts";
import { SAFETY_POLL_MS } from "../../src/ops/inbox.ts";
import { type Handler, json, type RecordedRequest, VirtualClock } from "../support/fakes.ts";
import { BOB, commandHarness, HS, noRequests, stdinOf } from "../support/commands.ts";
import { cchatRoomState } from "../support/space.ts";
import { inboxMessage } from "../support/fixtures.ts";

const V3 = "/_matrix/client/v3";
const harness = commandHarness;
const message = inboxMessage;

const call = (r: RecordedRequest) => `${r.method} ${decodeURIComponent(r.url.pathname)}`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

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

const LOGIN_OK = { user_id: BOB, access_token: "new-token", device_id: "DEV1" };

Deno.test("login with a password, then again", async (t) => {
  /** A harness whose homeserver accepts the password; logged in first when `stored`. */
  async function passwordHarness(stored: boolean) {
    const h = await harness(() => json(LOGIN_OK));
    h.env.CCHAT_PASSWORD = "hunter2";
    if (stored) {
      await writeCredentials(h.configDir, {
        homeserver: HS,
        userId: BOB,
        accessToken: "new-token",
        deviceId: "DEV1",
      });
    }
    return h;
  }

  await t.step("a password login stores the token with mode 0600", async () => {
    await using h = await passwordHarness(false);
    assert.equal(await h.cli("login", "--homeserver", HS, "--user", "bob"), 0);
    assert.equal(h.stdout.text, `Logged in as ${BOB} on ${HS}.\n`);
    assert.deepEqual(h.requests.map(call), [`POST ${V3}/login`]);
    assert.deepEqual(h.requests[0].body, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: "bob" },
      password: "hunter2",
      initial_device_display_name: "cchat",
    });
    const path = credentialsPath(h.configDir);
    assert.ok(await exists(path));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await readCredentials(h.configDir), {
      homeserver: HS,
      userId: BOB,
      accessToken: "new-token",
      deviceId: "DEV1",
    });
    assert.ok(!h.stdout.text.includes("new-token"), "the token is never printed");
    assert.ok(!h.stderr.text.includes("new-token"), "the token is never printed");
  });

  await t.step("a second login reuses the stored one without any request", async () => {
    await using h = await passwordHarness(true);
    assert.equal(await h.cli("login", "--homeserver", HS, "--user", "bob"), 0);
    assert.equal(h.stdout.text, `Already logged in as ${BOB} on ${HS}.\n`);
    assert.equal(await h.cli("login"), 0);
    assert.equal(h.requests.length, 0);
  });

  await t.step("--json reports already_logged_in", async () => {
    await using h = await passwordHarness(true);
    assert.equal(await h.cli("login", "--json", "--user", BOB), 0);
    assert.deepEqual(JSON.parse(h.stdout.text), {
      user_id: BOB,
      homeserver: HS,
      device_id: "DEV1",
      already_logged_in: true,
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step("--force logs in again", async () => {
    await using h = await passwordHarness(true);
    assert.equal(await h.cli("login", "--user", "bob", "--force", "--homeserver", HS), 0);
    assert.equal(h.stdout.text, `Logged in as ${BOB} on ${HS}.\n`);
    assert.equal(h.requests.length, 1);
  });
});

Deno.test("login", async (t) => {
  await t.step("a stored login of another user is replaced", async () => {
    await using h = await harness(() => json({ ...LOGIN_OK, user_id: "@alice:hs.test" }));
    await h.login();
    h.env.CCHAT_PASSWORD = "pw";
    assert.equal(await h.cli("login", "--homeserver", HS, "--user", "alice"), 0);
    assert.equal(h.requests.length, 1);
    assert.equal(h.stdout.text, `Logged in as @alice:hs.test on ${HS}.\n`);
    assert.equal((await readCredentials(h.configDir))?.userId, "@alice:hs.test");
    assert.equal((await Deno.stat(credentialsPath(h.configDir))).mode! & 0o777, 0o600);
  });

  await t.step("a 403 is an auth error (exit 4) naming the user and homeserver", async () => {
    await using h = await harness(() =>
      json({ errcode: "M_FORBIDDEN", error: "Invalid username or password" }, 403)
    );
    h.env.CCHAT_PASSWORD = "wrong";
    await assert.rejects(
      h.cli("login", "--homeserver", HS, "--user", "bob"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof CchatError);
        assert.equal(err.exitCode, ExitCode.auth);
        assert.equal(err.exitCode, 4);
        assert.equal(err.message, `Wrong user name or password for "bob" on "${HS}".`);
        assert.match(err.hint ?? "", /Check both/);
        return true;
      },
    );
    assert.equal(h.requests.length, 1, "a password login is never retried");
    assert.equal(await exists(credentialsPath(h.configDir)), false);
  });

  await t.step("--token stores CCHAT_ACCESS_TOKEN after a whoami", async () => {
    await using h = await harness((r) =>
      r.url.pathname === `${V3}/account/whoami`
        ? json({ user_id: "@carol:hs.test", device_id: "DEVC" })
        : noRequests(r)
    );
    h.env.CCHAT_ACCESS_TOKEN = "env-token";
    assert.equal(await h.cli("login", "--homeserver", HS, "--token"), 0);
    assert.deepEqual(h.requests.map(call), [`GET ${V3}/account/whoami`]);
    assert.equal(h.requests[0].headers.get("authorization"), "Bearer env-token");
    assert.deepEqual(await readCredentials(h.configDir), {
      homeserver: HS,
      userId: "@carol:hs.test",
      accessToken: "env-token",
      deviceId: "DEVC",
    });
    assert.equal(h.stdout.text, `Logged in as @carol:hs.test on ${HS}.\n`);
    assert.equal((await Deno.stat(credentialsPath(h.configDir))).mode! & 0o777, 0o600);
  });

  await t.step("--token reads the first line of stdin when the env has none", async () => {
    const stdin = stdinOf("piped-token\nignored\n");
    await using h = await harness(() => json({ user_id: "@dan:hs.test" }), { stdin });
    assert.equal(await h.cli("login", "--homeserver", HS, "--token"), 0);
    assert.equal(h.requests[0].headers.get("authorization"), "Bearer piped-token");
    assert.equal((await readCredentials(h.configDir))?.accessToken, "piped-token");
  });

  await t.step("no password (no env, empty stdin) is a usage error, no request", async () => {
    await using h = await harness();
    await assert.rejects(
      h.cli("login", "--homeserver", HS, "--user", "bob"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.exitCode, 2);
        assert.equal(err.message, "No password was given.");
        return true;
      },
    );
    assert.equal(h.requests.length, 0);
    assert.equal(await exists(credentialsPath(h.configDir)), false);
  });

  await t.step("no token for --token is a usage error", async () => {
    await using h = await harness();
    await assert.rejects(
      h.cli("login", "--homeserver", HS, "--token"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, "No access token was given.");
        return true;
      },
    );
    assert.equal(h.requests.length, 0);
  });

  await t.step("a password login without --user is a usage error", async () => {
    await using h = await harness();
    h.env.CCHAT_PASSWORD = "pw";
    await assert.rejects(
      h.cli("login", "--homeserver", HS),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, "Password login needs --user NAME.");
        return true;
      },
    );
  });

  await t.step("no homeserver is a config error", async () => {
    await using h = await harness();
    h.env.CCHAT_PASSWORD = "pw";
    await assert.rejects(
      h.cli("login", "--user", "bob"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, "No homeserver to log in to.");
        return true;
      },
    );
  });

  await t.step("a bad --homeserver is a usage error naming the flag", async () => {
    await using h = await harness();
    await assert.rejects(
      h.cli("login", "--homeserver", "hs.test", "--user", "bob"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /--homeserver flag is "hs\.test"/);
        return true;
      },
    );
  });

  await t.step("the same bad homeserver from the environment is a config error", async () => {
    await using h = await harness();
    h.env.CCHAT_HOMESERVER = "hs.test";
    h.env.CCHAT_PASSWORD = "pw";
    await assert.rejects(
      h.cli("login", "--user", "bob"),
      (err: CchatError & { status?: number }) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /\$CCHAT_HOMESERVER is "hs\.test"/);
        return true;
      },
    );
  });
});

Deno.test("logout", async (t) => {
  await t.step("POSTs /logout with the stored token and removes the file", async () => {
    await using h = await harness(() => json({}));
    await h.login();
    assert.equal(await h.cli("logout"), 0);
    assert.deepEqual(h.requests.map(call), [`POST ${V3}/logout`]);
    assert.equal(h.requests[0].headers.get("authorization"), "Bearer stored-token");
    assert.equal(h.stdout.text, `Logged out ${BOB}.\n`);
    assert.equal(await exists(credentialsPath(h.configDir)), false);
  });

  await t.step("a 401 (token already dead) still removes the file", async () => {
    await using h = await harness(() => json({ errcode: "M_UNKNOWN_TOKEN", error: "gone" }, 401));
    await h.login();
    assert.equal(await h.cli("logout", "--json"), 0);
    assert.deepEqual(JSON.parse(h.stdout.text), { logged_out: true, user_id: BOB });
    assert.equal(h.requests.length, 1);
    assert.equal(await exists(credentialsPath(h.configDir)), false);
  });

  await t.step("another failure keeps the stored login", async () => {
    await using h = await harness(() => json({ errcode: "M_UNKNOWN", error: "boom" }, 500));
    await h.login();
    await assert.rejects(h.cli("logout"), (err: CchatError & { status?: number }) => {
      assert.equal(err.status, 500);
      return true;
    });
    assert.equal(await exists(credentialsPath(h.configDir)), true);
  });

  await t.step("without a login: Not logged in, no request", async () => {
    await using h = await harness();
    assert.equal(await h.cli("logout"), 0);
    assert.equal(h.stdout.text, "Not logged in.\n");
    assert.equal(h.requests.length, 0);
    h.stdout.text = "";
    assert.equal(await h.cli("logout", "--json"), 0);
    assert.deepEqual(JSON.parse(h.stdout.text), { logged_out: false, user_id: null });
  });
});

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
const BUILDER = "@builder:hs.test";

function homeserver(options: { whoami?: string; firstSend?: number } = {}): Handler {
  let sends = 0;
  return (r) => {
    const p = decodeURIComponent(r.url.pathname);
    if (p === `${V3}/account/whoami`) return json({ user_id: options.whoami ?? BOB });
    if (p === `${V3}/directory/room/#agents-lobby:hs.test`) {
      return json({ room_id: "!lobby:hs.test" });
    }
    // The Space names builder's room in builder's own entry, and builder made that room.
    if (p === `${V3}/directory/room/#agents:hs.test`) return json({ room_id: "!space:hs.test" });
    if (p === `${V3}/rooms/!space:hs.test/state/dev.cchat.agent/${BUILDER}`) {
      return json({
        type: "dev.cchat.agent",
        state_key: BUILDER,
        sender: BUILDER,
        content: { name: "builder", room_id: "!builder:hs.test" },
      });
    }
    if (r.method === "GET" && p === `${V3}/rooms/!builder:hs.test/state`) {
      return json(cchatRoomState(BUILDER));
    }
    if (p.startsWith(`${V3}/join/`)) return json({ room_id: "!builder:hs.test" });
    if (r.method === "PUT" && p.includes("/send/m.room.message/")) {
      sends++;
      if (sends === 1 && options.firstSend) {
        return json({ errcode: "M_FORBIDDEN", error: "not in room" }, options.firstSend);
      }
      return json({ event_id: `$sent${sends}` });
    }
    return json({ errcode: "M_UNRECOGNIZED", error: p }, 404);
  };
}

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

Deno.test("status", async (t) => {
  const daemon = (lastSyncAt: number | null, state: "running" | "stopped" = "running") => ({
    pid: 99,
    host: "test-host",
    name: "builder",
    startedAt: 0,
    lastSyncAt,
    state,
    lastError: lastSyncAt === null ? null : "sync failed: 502",
    failure: null,
    spaceId: "!space:hs.test",
    lobbyId: "!lobby:hs.test",
    roomId: "!builder:hs.test",
    droppedSenders: 0,
  });
  const spaceFound: Handler = () => json({ room_id: "!space:hs.test" });
  // A record alone no longer proves a daemon alive: its process must run and hold the lease.
  const daemonAlive = { processAlive: (pid: number) => pid === 99 };
  const holdLease = (r: DaemonRecords, deps: Deps) => r.syncLease(deps).acquire(99);

  await t.step("no daemon record: exit 8, not running", async () => {
    await using h = await harness(spaceFound);
    await h.login();
    assert.equal(await h.cli("status"), ExitCode.stale);
    assert.deepEqual(h.stdout.lines, [
      `user        ${BOB}`,
      `homeserver  ${HS}`,
      "space       #agents:hs.test (reachable)",
      "daemon      not running",
    ]);
    // The alias and the token are checked at once, in no fixed order.
    assert.deepEqual(h.requests.map(call).sort(), [
      `GET ${V3}/account/whoami`,
      `GET ${V3}/directory/room/#agents:hs.test`,
    ]);
  });

  await t.step("a fresh daemon: exit 0", async () => {
    await using h = await harness(spaceFound, daemonAlive);
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time - 10_000)));
    await h.records((r) => holdLease(r, h.deps));
    assert.equal(await h.cli("status"), 0);
    assert.equal(
      h.stdout.lines[3],
      'daemon      running as "builder" (pid 99), last sync 10s ago',
    );
  });

  // Its pid is not running here, so status now calls it dead rather than stale; still exit 8.
  await t.step("a daemon silent for two long-polls and the slack is stale: exit 8", async () => {
    await using h = await harness(spaceFound);
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time - 75_000)));
    assert.equal(await h.cli("status", "--json"), 8);
    const printed = JSON.parse(h.stdout.text);
    assert.equal(printed.daemon.alive, false);
    assert.equal(printed.daemon.last_sync_age_ms, 75_000);
    assert.equal(printed.space, "ok");
    assert.equal(printed.homeserver_reachable, true);
  });

  await t.step("a stopped daemon is not running, a missing Space says so", async () => {
    await using h = await harness(() => json({ errcode: "M_NOT_FOUND", error: "no" }, 404));
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time, "stopped")));
    assert.equal(await h.cli("status"), 8);
    assert.equal(h.stdout.lines[2], "space       #agents:hs.test (missing)");
    assert.equal(h.stdout.lines[3], "daemon      not running");
  });

  await t.step("an unreachable homeserver with a live daemon: exit 5", async () => {
    await using h = await harness(() => {
      throw new TypeError("connection refused");
    }, daemonAlive);
    await h.login();
    await h.records((r) => r.saveStatus(daemon(h.clock.time)));
    await h.records((r) => holdLease(r, h.deps));
    assert.equal(await h.cli("status"), ExitCode.unreachable);
    assert.equal(h.stdout.lines[1], `homeserver  ${HS} (unreachable)`);
    assert.equal(h.stdout.lines[2], "space       #agents:hs.test (unreachable)");
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
