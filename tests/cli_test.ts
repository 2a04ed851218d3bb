import assert from "node:assert/strict";
import { runCli } from "../src/cli.ts";
import { UsageError } from "../src/errors.ts";
import { outputFor } from "../src/output.ts";
import { VERSION } from "../src/version.ts";
import { fakeDeps } from "./support/fakes.ts";

Deno.test("runCli", async (t) => {
  await t.step("--help lists the commands and exits 0", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["--help"], deps), 0);
    assert.match(stdout.text, /Usage: cchat login /);
    for (const name of ["send", "who", "daemon", "heartbeat", "inbox", "wait", "demo"]) {
      assert.match(stdout.text, new RegExp(`^\\s+${name}\\s+\\S`, "m"), name);
    }
  });
  await t.step("each command's --help lists its own options, --json included", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["send", "--help"], deps), 0);
    assert.match(stdout.text, /Usage: cchat send \[--json\] \[--to NAME\]/);
    assert.match(stdout.text, /--json\s+print one JSON document on stdout/);
    assert.doesNotMatch(stdout.text, /--peek/);
  });
  await t.step("completions print a script for bash, zsh and fish", async () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const { deps, stdout } = fakeDeps();
      assert.equal(await runCli(["completions", shell], deps), 0);
      assert.match(stdout.text, /cchat/, shell);
      assert.ok(stdout.text.length > 500, shell);
    }
  });
  await t.step("--version prints the version", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["--version"], deps), 0);
    assert.equal(stdout.text, `${VERSION}\n`);
  });
  await t.step("an unknown option is a usage error with a hint", async () => {
    const { deps, stderr } = fakeDeps();
    await assert.rejects(runCli(["who", "--bogus"], deps), (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, "Unexpected option or subcommand: `--bogus`.");
      assert.match(err.hint ?? "", /cchat --help/);
      return true;
    });
    assert.equal(stderr.text, "");
  });
  await t.step("a missing required option is a usage error", async () => {
    const { deps } = fakeDeps();
    await assert.rejects(runCli(["demo"], deps), (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /--homeserver/);
      return true;
    });
  });
  await t.step("demo refuses to run without the registration secret", async () => {
    const { deps } = fakeDeps();
    await assert.rejects(
      runCli(["demo", "--homeserver", "http://127.0.0.1:1"], deps),
      (err: Error) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /registration shared secret/);
        return true;
      },
    );
  });
  await t.step("outputFor reads --json, NO_COLOR and CCHAT_DEBUG", () => {
    const { deps, env } = fakeDeps({ stderrIsTerminal: true });
    env.CCHAT_DEBUG = "1";
    assert.deepEqual(outputFor(deps, true).options, { json: true, color: true, debug: true });
    env.NO_COLOR = "1";
    assert.equal(outputFor(deps, false).options.color, false);
  });
});
