/** 9. Bad input: one clear line (and a hint), a non-zero exit, no stack trace, nothing half-written. */
import assert from "node:assert/strict";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor } from "../../harness/matrix.ts";
import { agentCli, cchat, type CliResult } from "../../harness/cli.ts";

function assertCleanError(result: CliResult, code: number, message: RegExp) {
  assert.equal(result.code, code, `exit ${result.code}: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  assert.ok(
    lines.length <= 2 && (lines.length === 1 || lines[1].startsWith("hint: ")),
    result.stderr,
  );
  assert.ok(!/\n\s+at /.test(result.stderr), "no stack trace");
  assert.equal(result.stdout, "");
}

Deno.test("9. bad input gets a clear error and changes nothing", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const user = await freshUser(hs, "careful");
  await using agent = await agentCli(hs, user, "careful", { prefix });

  await t.step("bad agent names", async () => {
    const cases: [string, RegExp][] = [
      ["a:b", /The agent name "a:b" contains ":"/],
      ["", /The agent name is empty/],
      ["x".repeat(300), /is longer than 64 bytes/],
      ["two words", /contains whitespace/],
    ];
    for (const [name, message] of cases) {
      assertCleanError(await agent.run(["send", "--to", name, "hi"]), 2, message);
      assertCleanError(await agent.run(["daemon", "--name", name]), 2, message);
    }
  });

  await t.step("a missing config", async () => {
    const home = await Deno.makeTempDir();
    try {
      const env = { XDG_CONFIG_HOME: `${home}/c`, XDG_STATE_HOME: `${home}/s` };
      assertCleanError(await cchat(["who"], env), 3, /No homeserver is configured\./);
      assertCleanError(
        await cchat(["who"], { ...env, CCHAT_HOMESERVER: hs.baseUrl }),
        3,
        /Not logged in\./,
      );
      assertCleanError(
        await cchat(["who"], { ...env, CCHAT_HEARTBEAT_INTERVAL: "soon" }),
        3,
        /"soon", not a number/,
      );
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });

  await t.step("a wrong password stores nothing", async () => {
    const home = await Deno.makeTempDir();
    try {
      const env = { XDG_CONFIG_HOME: home, CCHAT_PASSWORD: "wrong" };
      const result = await cchat(
        ["login", "--homeserver", hs.baseUrl, "--user", user.username],
        env,
      );
      assertCleanError(result, 4, new RegExp(`Wrong user name or password for "${user.username}"`));
      assert.deepEqual(
        [...Deno.readDirSync(home)].map((e) => e.name).filter((n) => n !== "cchat"),
        [],
      );
      await assert.rejects(Deno.stat(`${home}/cchat/credentials.json`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });

  await t.step("an unreachable homeserver", async () => {
    const result = await cchat(["who"], {
      ...agent.env,
      CCHAT_HOMESERVER: "http://127.0.0.1:9",
      CCHAT_ACCESS_TOKEN: "unused",
    });
    assertCleanError(result, 5, /Cannot reach the homeserver at "http:\/\/127.0.0.1:9"/);
  });

  await t.step("an oversize message is refused before sending", async () => {
    const big = "x".repeat(70_000);
    assertCleanError(
      await agent.run(["send", "-"], big),
      2,
      /The message is \d+ bytes; the homeserver takes at most 64000/,
    );
  });

  await t.step("an unknown --to names close matches", async () => {
    assert.equal((await agent.run(["heartbeat"])).code, 0);
    assertCleanError(
      await agent.run(["send", "--to", "carefull", "hi"]),
      1,
      /No agent is called "carefull"/,
    );
    const result = await agent.run(["send", "--to", "carefull", "hi"]);
    assert.match(result.stderr, /hint: Did you mean "careful"\?/);
  });

  await t.step("a revoked token", async () => {
    const doomed = await freshUser(hs, "doomed");
    await using revoked = await agentCli(hs, doomed, "doomed", { prefix });
    await clientFor(hs, doomed).logout();
    const result = await revoked.run(["who"]);
    assertCleanError(result, 4, /401 M_UNKNOWN_TOKEN/);
    assert.match(result.stderr, /cchat login --force/);
  });
});
