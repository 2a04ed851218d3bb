/** `cchat login` through runCli, against a fake homeserver. */
import assert from "node:assert/strict";
import { credentialsPath, readCredentials, writeCredentials } from "../../src/credentials.ts";
import { CchatError, ConfigError, ExitCode, UsageError } from "../../src/errors.ts";
import { json } from "../support/fakes.ts";
import {
  BOB,
  call,
  commandHarness,
  exists,
  HS,
  noRequests,
  stdinOf,
  V3,
} from "../support/commands.ts";

const harness = commandHarness;

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
