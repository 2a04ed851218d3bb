import assert from "node:assert/strict";
import { runCli } from "../../src/cli.ts";
import { readCredentials, writeCredentials } from "../../src/credentials.ts";
import { type CchatError, ExitCode } from "../../src/errors.ts";
import { agentConfigDir } from "../../src/ops/provision.ts";
import { fakeDeps, fakeFetch, json, type RecordedRequest } from "../support/fakes.ts";

const HS = "https://hs.test";
const SECRET = "s3cret-shared";
const ADMIN = "admin-token";

/**
 * A Synapse that registers with the shared secret, knows `existing` users
 * already, and takes ADMIN as an admin's token unless `notAdmin`.
 */
function synapse(options: { existing?: string[]; notAdmin?: boolean; devices?: string[] } = {}) {
  const users = new Set((options.existing ?? []).map((name) => `@${name}:hs.test`));
  let tokens = 0;
  return fakeFetch((r: RecordedRequest) => {
    const path = decodeURIComponent(r.url.pathname);
    const auth = r.headers.get("authorization");
    const body = r.body as Record<string, unknown>;
    if (path === "/_synapse/admin/v1/register") {
      if (r.method === "GET") return json({ nonce: "n1" });
      const userId = `@${body.username}:hs.test`;
      if (users.has(userId)) return json({ errcode: "M_USER_IN_USE", error: "taken" }, 400);
      users.add(userId);
      return json({ user_id: userId, access_token: `tok-${body.username}`, device_id: "DEV" });
    }
    if (path === "/_matrix/client/v3/account/whoami") return json({ user_id: "@admin:hs.test" });
    if (path === "/_matrix/client/v3/logout") return json({});
    if (options.notAdmin) return json({ errcode: "M_FORBIDDEN", error: "not admin" }, 403);
    const user = path.match(/^\/_synapse\/admin\/v[12]\/users\/([^/]+)(\/.*)?$/);
    if (!user || auth !== `Bearer ${ADMIN}`) return json({ errcode: "M_UNRECOGNIZED" }, 404);
    const [, userId, rest] = user;
    if (rest === undefined && r.method === "GET") {
      return users.has(userId) ? json({ name: userId }) : json({ errcode: "M_NOT_FOUND" }, 404);
    }
    if (rest === undefined && r.method === "PUT") return users.add(userId), json({}, 201);
    if (rest === "/login") return json({ access_token: `admin-issued-${++tokens}` });
    if (rest === "/override_ratelimit") return json(body);
    if (rest === "/devices") {
      return json({ devices: (options.devices ?? []).map((device_id) => ({ device_id })) });
    }
    if (rest === "/delete_devices") return json({});
    return json({ errcode: "M_UNRECOGNIZED" }, 404);
  });
}

async function setup(
  env: Record<string, string>,
  server = synapse(),
  stdin = "",
) {
  const home = await Deno.makeTempDir({ prefix: "cchat-provision-" });
  const fake = fakeDeps({
    fetch: server.fetch,
    stdin: new Response(stdin).body!,
  });
  Object.assign(fake.env, { HOME: home, CCHAT_HOMESERVER: HS }, env);
  const run = async (args: string[]) => {
    const before = { out: fake.stdout.text.length, err: fake.stderr.text.length };
    const code = await runCli(args, fake.deps);
    return {
      code,
      stdout: fake.stdout.text.slice(before.out),
      stderr: fake.stderr.text.slice(before.err),
    };
  };
  return {
    home,
    out: `${home}/fleet`,
    run,
    requests: server.requests,
    ...fake,
    [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }),
  };
}

const registrations = (requests: RecordedRequest[]) =>
  requests.filter((r) => r.method === "POST" && r.url.pathname === "/_synapse/admin/v1/register");

Deno.test("provision into a directory: one private login per agent, nothing printed twice", async (t) => {
  // The secret comes from stdin: the first line only.
  await using fixture = await setup({}, synapse(), `${SECRET}\nignored\n`);
  const { out, run, requests } = fixture;

  await t.step("each agent gets a 0600 login an operator can hand out", async () => {
    const { code, stdout } = await run(["provision", "--out", out, "alpha", "bravo"]);
    assert.equal(code, 0);
    assert.match(stdout, /^created\s+alpha\s+@alpha:hs\.test\s+\S+alpha\/cchat\/credentials\.json/);
    assert.ok(!stdout.includes("tok-"), "no token on stdout");
    for (const name of ["alpha", "bravo"]) {
      const dir = agentConfigDir(out, name);
      assert.equal((await Deno.stat(`${dir}/credentials.json`)).mode! & 0o777, 0o600);
      assert.deepEqual(await readCredentials(dir), {
        homeserver: HS,
        userId: `@${name}:hs.test`,
        accessToken: `tok-${name}`,
        deviceId: "DEV",
      });
    }
    const macs = registrations(requests).map((r) => (r.body as { username: string }).username);
    assert.deepEqual(macs, ["alpha", "bravo"]);
  });

  await t.step(
    "again: reported as existing, without asking the server or printing a token",
    async () => {
      const seen = requests.length;
      const { code, stdout } = await run(["provision", "--json", "--out", out, "alpha", "bravo"]);
      assert.equal(code, 0);
      const result = JSON.parse(stdout);
      assert.deepEqual(result.agents.map((a: { state: string }) => a.state), [
        "existing",
        "existing",
      ]);
      assert.ok(result.agents.every((a: object) => !("access_token" in a)));
      assert.equal(requests.length, seen);
    },
  );
});

Deno.test("provision --json without a directory prints new tokens only", async () => {
  await using fixture = await setup(
    { CCHAT_REGISTRATION_SECRET: SECRET },
    synapse({ existing: ["alpha"] }),
  );
  const { run, requests } = fixture;
  const { code, stdout } = await run(["provision", "--json", "alpha", "bravo"]);
  assert.equal(code, 0);
  const [alpha, bravo] = JSON.parse(stdout).agents;
  // The secret alone cannot learn the full id of an account it did not make.
  assert.deepEqual(alpha, {
    name: "alpha",
    user_id: null,
    state: "existing",
    device_id: null,
    credentials: null,
  });
  assert.equal(bravo.state, "created");
  assert.equal(bravo.access_token, "tok-bravo");
  assert.equal(registrations(requests).length, 2);
  assert.ok(!stdout.includes(SECRET));
});

Deno.test("provision refuses what it cannot do before it makes anything", async (t) => {
  const cases: [string, Record<string, string>, string[], RegExp][] = [
    ["text output has nowhere for the tokens", { CCHAT_REGISTRATION_SECRET: SECRET }, [
      "alpha",
    ], /somewhere to go/],
    ["--reissue needs the admin token", { CCHAT_REGISTRATION_SECRET: SECRET }, [
      "--json",
      "--reissue",
      "alpha",
    ], /--reissue needs a server admin's access token/],
    ["--no-rate-limit needs the admin token", { CCHAT_REGISTRATION_SECRET: SECRET }, [
      "--json",
      "--no-rate-limit",
      "alpha",
    ], /--no-rate-limit needs/],
    ["no secret at all", {}, ["--json", "alpha"], /No registration shared secret/],
    ["a bad name", { CCHAT_REGISTRATION_SECRET: SECRET }, ["--json", "Alpha"], /"Alpha"/],
  ];
  for (const [what, env, args, message] of cases) {
    await t.step(what, async () => {
      await using fixture = await setup(env);
      const { run, requests } = fixture;
      await assert.rejects(run(["provision", ...args]), (err: CchatError) => {
        assert.equal(err.exitCode, ExitCode.usage);
        assert.match(err.message, message);
        return true;
      });
      assert.equal(requests.length, 0);
    });
  }
});

Deno.test("a wrong shared secret is an auth error that never echoes the secret", async () => {
  const server = fakeFetch((r) =>
    r.method === "GET"
      ? json({ nonce: "n1" })
      : json({ errcode: "M_FORBIDDEN", error: "HMAC incorrect" }, 403)
  );
  await using fixture = await setup({ CCHAT_REGISTRATION_SECRET: SECRET }, server);
  const { run } = fixture;
  await assert.rejects(run(["provision", "--json", "alpha"]), (err: CchatError) => {
    assert.equal(err.exitCode, ExitCode.auth);
    assert.match(err.message, /refused the registration secret/);
    assert.ok(!`${err.message} ${err.hint}`.includes(SECRET));
    return true;
  });
});

Deno.test("a refused rate-limit override is reported, and the accounts are kept", async () => {
  await using fixture = await setup(
    { CCHAT_REGISTRATION_SECRET: SECRET, CCHAT_ADMIN_TOKEN: ADMIN },
    synapse({ notAdmin: true }),
  );
  const { out, run } = fixture;
  const { code, stdout, stderr } = await run([
    "provision",
    "--json",
    "--out",
    out,
    "--no-rate-limit",
    "alpha",
  ]);
  assert.equal(code, ExitCode.failure);
  const [alpha] = JSON.parse(stdout).agents;
  assert.equal(alpha.state, "created");
  assert.equal(alpha.rate_limit.lifted, false);
  assert.match(alpha.rate_limit.error, /403 M_FORBIDDEN/);
  assert.match(stderr, /kept the rate limits of 1 agent/);
  assert.ok(!`${stdout}${stderr}`.includes(ADMIN));
  assert.ok(await readCredentials(agentConfigDir(out, "alpha")));
});

Deno.test("with the admin token alone: created through the admin API, reissued on request", async (t) => {
  await using fixture = await setup(
    { CCHAT_ADMIN_TOKEN: ADMIN },
    synapse({ existing: ["bravo"] }),
  );
  const { out, run, requests } = fixture;

  await t.step(
    "a new user is made and logged in as; an existing one is only reported",
    async () => {
      const { code, stdout } = await run([
        "provision",
        "--json",
        "--out",
        out,
        "--no-rate-limit",
        "alpha",
        "bravo",
      ]);
      assert.equal(code, 0);
      const [alpha, bravo] = JSON.parse(stdout).agents;
      assert.deepEqual([alpha.state, bravo.state], ["created", "existing"]);
      assert.equal(bravo.user_id, "@bravo:hs.test");
      assert.equal(bravo.credentials, null);
      assert.deepEqual(alpha.rate_limit, { lifted: true });
      assert.equal(
        (await readCredentials(agentConfigDir(out, "alpha")))?.accessToken,
        "admin-issued-1",
      );
      const override = requests.find((r) => r.url.pathname.endsWith("/override_ratelimit"));
      assert.deepEqual(override?.body, { messages_per_second: 0, burst_count: 0 });
      assert.equal(registrations(requests).length, 0);
    },
  );

  await t.step("--reissue gives an existing agent a new login", async () => {
    const { stdout } = await run(["provision", "--json", "--out", out, "--reissue", "bravo"]);
    const [bravo] = JSON.parse(stdout).agents;
    assert.equal(bravo.state, "reissued");
    assert.ok(!("access_token" in bravo));
    assert.equal(
      (await readCredentials(agentConfigDir(out, "bravo")))?.accessToken,
      "admin-issued-2",
    );
  });
});

Deno.test("revoke logs out the stored login and deletes the devices", async (t) => {
  await t.step("with the stored login only", async () => {
    await using fixture = await setup({});
    const { out, run, requests } = fixture;
    const dir = agentConfigDir(out, "alpha");
    await writeCredentials(dir, { homeserver: HS, userId: "@alpha:hs.test", accessToken: "tok-a" });
    const { code, stdout } = await run(["revoke", "--json", "--out", out, "alpha"]);
    assert.equal(code, 0);
    const result = JSON.parse(stdout);
    assert.equal(result.stored_login_revoked, true);
    assert.equal(result.devices_deleted, null);
    const logout = requests.find((r) => r.url.pathname === "/_matrix/client/v3/logout");
    assert.equal(logout?.headers.get("authorization"), "Bearer tok-a");
    assert.equal(await readCredentials(dir), undefined);
  });

  await t.step("with the admin token: every device, counted", async () => {
    await using fixture = await setup(
      { CCHAT_ADMIN_TOKEN: ADMIN },
      synapse({ devices: ["D1", "D2"] }),
    );
    const { run, requests } = fixture;
    const { code, stdout } = await run(["revoke", "alpha"]);
    assert.equal(code, 0);
    assert.equal(stdout, "Revoked @alpha:hs.test: deleted 2 device(s).\n");
    const deleted = requests.find((r) => r.url.pathname.endsWith("/delete_devices"));
    assert.deepEqual(deleted?.body, { devices: ["D1", "D2"] });
  });

  await t.step("with neither: a usage error", async () => {
    await using fixture = await setup({});
    const { run } = fixture;
    await assert.rejects(run(["revoke", "alpha"]), /nothing to revoke "alpha"/);
  });
});

Deno.test("provision never strands an account", async (t) => {
  await t.step("an --out it cannot write to is found before any account is made", async () => {
    await using fixture = await setup({ CCHAT_REGISTRATION_SECRET: SECRET });
    const { run, requests, home } = fixture;
    // A file where the directory should be: no login can go under it.
    await Deno.writeTextFile(`${home}/taken`, "");
    await assert.rejects(
      run(["provision", "--out", `${home}/taken`, "alpha", "beta"]),
      (err: CchatError) => {
        assert.equal(err.exitCode, ExitCode.config);
        assert.match(err.message, /^Cannot store a login in ".*\/taken\/alpha\/cchat"/);
        assert.match(err.hint ?? "", /^Nothing was created/);
        return true;
      },
    );
    assert.deepEqual(registrations(requests), []);
  });

  await t.step(
    "a failure in the middle says what exists, and a rerun finishes without an admin token",
    async () => {
      let failing = true;
      const healthy = synapse();
      const flaky = fakeFetch((r) => {
        const body = r.body as { username?: string } | undefined;
        if (failing && r.method === "POST" && body?.username === "beta") {
          return json({ errcode: "M_UNKNOWN", error: "database is on fire" }, 500);
        }
        return healthy.fetch(r.url, {
          method: r.method,
          headers: r.headers,
          body: JSON.stringify(r.body),
        });
      });
      await using fixture = await setup({ CCHAT_REGISTRATION_SECRET: SECRET }, flaky);
      const { run, out } = fixture;
      await assert.rejects(
        run(["provision", "--json", "--out", out, "alpha", "beta", "gamma"]),
        (err: CchatError) => {
          assert.match(err.message, /^Provisioning stopped at "beta": .*database is on fire/);
          assert.match(err.message, /Done: alpha \(created\)\. Not done: beta, gamma\.$/);
          assert.match(err.hint ?? "", /run the same command again/);
          return true;
        },
      );
      failing = false;
      const rerun = await run(["provision", "--json", "--out", out, "alpha", "beta", "gamma"]);
      assert.equal(rerun.code, 0);
      const states = JSON.parse(rerun.stdout).agents.map((
        a: { name: string; state: string },
      ) => [a.name, a.state]);
      assert.deepEqual(states, [["alpha", "existing"], ["beta", "created"], ["gamma", "created"]]);
    },
  );
});

/**
 * A Synapse that has loaded the registration with `asToken` for `names`, and
 * knows `existing` of them already.
 */
function serviceSynapse(asToken: string, names: string[], existing: string[] = []) {
  const users = new Set(existing);
  let logins = 0;
  return fakeFetch((r: RecordedRequest) => {
    const path = r.url.pathname;
    const body = r.body as { username?: string; identifier?: { user: string } };
    if (r.headers.get("authorization") !== `Bearer ${asToken}`) {
      return json({ errcode: "M_UNKNOWN_TOKEN", error: "Invalid access token passed." }, 401);
    }
    if (path === "/_matrix/client/v3/register") {
      const name = body.username!;
      if (!names.includes(name)) {
        return json({ errcode: "M_EXCLUSIVE", error: "Invalid user localpart" }, 400);
      }
      if (users.has(name)) return json({ errcode: "M_USER_IN_USE", error: "taken" }, 400);
      users.add(name);
      return json({ user_id: `@${name}:hs.test`, access_token: `tok-${name}`, device_id: "D" });
    }
    if (path === "/_matrix/client/v3/login") {
      const name = body.identifier!.user;
      return json({
        user_id: `@${name}:hs.test`,
        access_token: `again-${++logins}`,
        device_id: "E",
      });
    }
    return json({ errcode: "M_UNRECOGNIZED" }, 404);
  });
}

async function refused(run: Promise<unknown>, exitCode: number, message: RegExp, hint: RegExp) {
  await assert.rejects(run, (err: CchatError) => {
    assert.equal(err.exitCode, exitCode);
    assert.match(err.message, message);
    assert.match(err.hint!, hint);
    return true;
  });
}

Deno.test("provision --appservice", async (t) => {
  await t.step("writes the registration first; an unknown one says how to load it", async () => {
    await using h = await setup({}, serviceSynapse("not-loaded", []));
    await refused(
      h.run(["provision", "--appservice", "--out", h.out, "alice", "bob"]),
      ExitCode.config,
      /does not know the application service of ".*appservice.yaml" yet.*Not done: alice, bob\./,
      /app_service_config_files/,
    );
    const registration = JSON.parse(await Deno.readTextFile(`${h.out}/appservice.yaml`));
    assert.equal(registration.url, "http://127.0.0.1:9339");
    assert.equal(registration.rate_limited, false);
    // No secret and no admin token was asked for.
    assert.ok(!h.requests.some((r) => r.url.pathname.startsWith("/_synapse/")));
  });
  await t.step("makes the accounts with the service's token, logs existing ones in", async () => {
    await using h = await setup({}, serviceSynapse("not-loaded", []));
    await h.run(["provision", "--appservice", "--out", h.out, "alice", "bob"]).catch(() => {});
    const { as_token } = JSON.parse(await Deno.readTextFile(`${h.out}/appservice.yaml`));
    const server = serviceSynapse(as_token, ["alice", "bob"], ["bob"]);
    h.deps.fetch = server.fetch;
    const result = await h.run([
      "provision",
      "--appservice",
      "--out",
      h.out,
      "--json",
      "alice",
      "bob",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const { agents, appservice } = JSON.parse(result.stdout);
    assert.deepEqual(agents.map((a: { state: string }) => a.state), ["created", "reissued"]);
    assert.equal(appservice.written, false);
    assert.equal((await readCredentials(agentConfigDir(h.out, "bob")))!.accessToken, "again-1");
  });
  await t.step("a new name extends the registration; until loaded it is refused", async () => {
    await using h = await setup({}, serviceSynapse("not-loaded", []));
    await h.run(["provision", "--appservice", "--out", h.out, "alice"]).catch(() => {});
    const before = JSON.parse(await Deno.readTextFile(`${h.out}/appservice.yaml`));
    h.deps.fetch = serviceSynapse(before.as_token, ["alice"]).fetch;
    await refused(
      h.run([
        "provision",
        "--appservice",
        "--appservice-url",
        "http://127.0.0.1:9400",
        "--out",
        h.out,
        "alice",
        "carol",
      ]),
      ExitCode.config,
      /does not name "carol" yet.*Done: alice \(created\)/,
      /Restart the homeserver/,
    );
    const after = JSON.parse(await Deno.readTextFile(`${h.out}/appservice.yaml`));
    assert.equal(after.as_token, before.as_token);
    assert.equal(after.url, "http://127.0.0.1:9400");
    assert.match(after.namespaces.users[0].regex, /carol/);
  });
  await t.step("needs --out, and an http origin", async () => {
    await using h = await setup({}, serviceSynapse("not-loaded", []));
    await refused(
      h.run(["provision", "--appservice", "--json", "alice"]),
      ExitCode.usage,
      /--appservice needs --out DIR/,
      /DIR\/appservice.yaml/,
    );
    await refused(
      h.run(["provision", "--appservice", "--appservice-url", "ftp://x/y", "--out", h.out, "a"]),
      ExitCode.usage,
      /"ftp:\/\/x\/y" is not an http origin/,
      /http:\/\/, a host and a port/,
    );
  });
});
