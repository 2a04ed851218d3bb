import assert from "node:assert/strict";
import { startHomeserver, stopHomeserver } from "../../harness/homeserver/mod.ts";
import { freshUser } from "../../harness/users.ts";
import { testHomeserver, testHomeserverOptions } from "../support/homeserver.ts";

const SCRIPT = new URL("../../scripts/homeserver.ts", import.meta.url).pathname;

/** No CCHAT_TEST_* variables: these steps need a server of their own, never an external one. */
const noEnv = () => undefined;

async function json(response: Response): Promise<Record<string, unknown>> {
  const body: unknown = await response.json();
  assert.equal(typeof body, "object");
  return body as Record<string, unknown>;
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

Deno.test("local homeserver", async (t) => {
  const hs = await testHomeserver();

  await t.step("a registered user logs in with a password and syncs", async () => {
    const user = await freshUser(hs, "login");
    const login = await fetch(`${hs.baseUrl}/_matrix/client/v3/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: user.username },
        password: user.password,
      }),
    });
    assert.equal(login.status, 200);
    const session = await json(login);
    assert.equal(session.user_id, user.userId);
    assert.equal(typeof session.access_token, "string");

    const sync = await fetch(`${hs.baseUrl}/_matrix/client/v3/sync?timeout=0`, {
      headers: { authorization: `Bearer ${session.access_token}` },
    });
    assert.equal(sync.status, 200);
    const body = await json(sync);
    assert.equal(typeof body.next_batch, "string");
    assert.notEqual(body.next_batch, "");
  });

  await t.step("start twice from the same data dir reuses the running server", async () => {
    const options = testHomeserverOptions("fast");
    const first = await startHomeserver(options);
    const second = await startHomeserver(options);
    assert.equal(first.baseUrl, hs.baseUrl);
    assert.equal(second.baseUrl, first.baseUrl);
    assert.equal(second.pid, first.pid);
    assert.equal(second.container, first.container);
    assert.equal(second.reused, true);
  });

  await t.step("start on a port another program holds fails naming the port", async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    const dataDir = await Deno.makeTempDir({ prefix: "cchat-hs-busy-" });
    try {
      await assert.rejects(
        startHomeserver({ dataDir, port, limits: "off", env: noEnv }),
        (e: Error) => e.message.includes(`Port "${port}" is already in use`),
      );
      const cli = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", SCRIPT, "start", dataDir, String(port)],
        env: { CCHAT_TEST_HOMESERVER: "", CCHAT_TEST_REGISTRATION_SECRET: "", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(cli.stderr).trim();
      assert.notEqual(cli.code, 0);
      assert.equal(new TextDecoder().decode(cli.stdout), "");
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.match(stderr, new RegExp(`Port "${port}" is already in use.*another port.*stop`));
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  });

  await t.step("a changed config restarts the server", async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "cchat-hs-restart-" });
    const options = { dataDir, port: freePort(), limits: "off" as const, env: noEnv };
    try {
      const first = await startHomeserver({
        ...options,
        extraConfig: "rc_message: {per_second: 1}\n",
      });
      const same = await startHomeserver({
        ...options,
        extraConfig: "rc_message: {per_second: 1}\n",
      });
      const changed = await startHomeserver({
        ...options,
        extraConfig: "rc_message: {per_second: 2}\n",
      });
      assert.equal(same.reused, true);
      assert.equal(changed.reused, false);
      assert.equal(changed.baseUrl, first.baseUrl);
      if (first.route === "chroot") assert.notEqual(changed.pid, first.pid);
      assert.equal(await stopHomeserver(dataDir), true);
      assert.equal(await stopHomeserver(dataDir), false);
    } finally {
      await stopHomeserver(dataDir);
      await Deno.remove(dataDir, { recursive: true });
    }
  });
});

Deno.test("a homeserver on PostgreSQL keeps its users across a restart, and stops whole", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cchat-hs-postgres-" });
  const options = {
    dataDir,
    port: freePort(),
    limits: "off" as const,
    database: "postgres" as const,
    env: noEnv,
  };
  try {
    const hs = await startHomeserver(options);
    assert.equal(hs.reused, false);
    // PostgreSQL's own files are in the data dir: Synapse writes no SQLite database.
    assert.ok((await Deno.stat(`${dataDir}/postgres/PG_VERSION`)).isFile);
    await assert.rejects(Deno.stat(`${dataDir}/homeserver.db`), Deno.errors.NotFound);
    const user = await freshUser(hs, "pg");
    assert.equal(await stopHomeserver(dataDir), true);

    const again = await startHomeserver(options);
    const whoami = await fetch(`${again.baseUrl}/_matrix/client/v3/account/whoami`, {
      headers: { authorization: `Bearer ${user.accessToken}` },
    });
    assert.equal((await json(whoami)).user_id, user.userId, "the user outlived the restart");
    assert.equal(await stopHomeserver(dataDir), true);
    const socket = await Deno.stat(`${dataDir}/postgres/.s.PGSQL.5432`).catch(() => null);
    assert.equal(socket, null, "PostgreSQL stopped with Synapse");
  } finally {
    await stopHomeserver(dataDir);
    await Deno.remove(dataDir, { recursive: true });
  }
});
