import assert from "node:assert/strict";
import { runCli } from "../src/cli.ts";
import { UsageError } from "../src/errors.ts";
import { outputFor } from "../src/output.ts";
import { VERSION } from "../src/version.ts";
import { fakeDeps } from "./support/fakes.ts";

const COMMANDS = [
  "login",
  "logout",
  "status",
  "send",
  "reply",
  "who",
  "daemon",
  "heartbeat",
  "inbox",
  "wait",
  "demo",
  "mcp",
  "hook",
  "provision",
  "revoke",
  "completions",
];

/** The usage error `args` ends in. */
async function usageError(args: string[]): Promise<UsageError> {
  const { deps, stdout, stderr } = fakeDeps();
  let caught: unknown;
  await assert.rejects(runCli(args, deps), (err) => (caught = err, err instanceof UsageError));
  assert.equal(stdout.text, "", "a usage error prints no data");
  assert.equal(stderr.text, "", "main.ts prints the error, not the parser");
  return caught as UsageError;
}

Deno.test("runCli", async (t) => {
  await t.step("--help lists every command and exits 0", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["--help"], deps), 0);
    for (const name of COMMANDS) {
      assert.match(stdout.text, new RegExp(`^  ${name}\\s+\\S`, "m"), name);
    }
    assert.doesNotMatch(stdout.text, /^ {2}complete\s/m, "the completion helper stays hidden");
  });
  await t.step("each command's --help lists its own options, --json included", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["send", "--help"], deps), 0);
    assert.match(stdout.text, /cchat send \[--json\] \[--to NAME\]/);
    assert.match(stdout.text, /\[--json\]\s+print one JSON document on stdout/);
    assert.doesNotMatch(stdout.text, /--peek/);
  });
  await t.step("--version prints the version", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["--version"], deps), 0);
    assert.equal(stdout.text, `${VERSION}\n`);
  });
  await t.step("a name that looks like a flag gets the usual name error", async () => {
    for (const args of [["heartbeat", "--name", "-x"], ["send", "--to", "-rf", "hi"]]) {
      const err = await usageError(args);
      assert.match(err.message, /^The agent name "-\w+" starts with "-"/, args.join(" "));
    }
  });
  await t.step("an unknown flag is a usage error with a hint", async () => {
    const err = await usageError(["who", "--bogus"]);
    assert.equal(err.message, "No flag registered for --bogus.");
    assert.equal(err.exitCode, 2);
    assert.match(err.hint ?? "", /cchat --help/);
  });
  await t.step("an unknown command suggests a close one", async () => {
    const err = await usageError(["inbx"]);
    assert.match(err.message, /`inbx`.*`inbox`/);
  });
  await t.step("a missing required flag or argument is a usage error", async () => {
    assert.match((await usageError(["demo"])).message, /homeserver/);
    assert.match((await usageError(["send"])).message, /TEXT/);
  });
  await t.step("a flag value of the wrong kind is a usage error naming it", async () => {
    assert.match((await usageError(["inbox", "--limit", "x"])).message, /"x".*limit/);
  });
  await t.step("demo refuses to run without the registration secret", async () => {
    const { deps } = fakeDeps();
    await assert.rejects(
      runCli(["demo", "--homeserver", "http://127.0.0.1:1"], deps),
      (err: Error) => err instanceof UsageError && /registration shared secret/.test(err.message),
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

Deno.test("completion", async (t) => {
  for (const shell of ["bash", "zsh", "fish"]) {
    await t.step(`completions ${shell} prints a script that asks cchat complete`, async () => {
      const { deps, stdout } = fakeDeps();
      assert.equal(await runCli(["completions", shell], deps), 0);
      assert.match(stdout.text, new RegExp(`${shell} completion for cchat`));
      assert.match(stdout.text, /cchat complete --/);
    });
  }
  await t.step("another shell is a usage error", async () => {
    assert.match((await usageError(["completions", "tcsh"])).message, /tcsh/);
  });
  await t.step("complete proposes commands, then a command's flags", async () => {
    const { deps, stdout } = fakeDeps();
    assert.equal(await runCli(["complete", "--", "se"], deps), 0);
    assert.deepEqual(stdout.lines, [
      "send\tPost a message to the lobby, or to an agent's room",
      ":4",
    ]);
    stdout.text = "";
    assert.equal(await runCli(["complete", "--", "inbox", "--"], deps), 0);
    const proposed = stdout.lines.map((line) => line.split("\t")[0]);
    for (const flag of ["--json", "--peek", "--limit"]) assert.ok(proposed.includes(flag), flag);
    assert.ok(!proposed.includes("--to"));
  });
});

Deno.test("a stray argument is never echoed: it may be a secret", async (t) => {
  const SECRET = "hunter2-Secret";
  await t.step("login names where the password comes from instead", async () => {
    const err = await usageError([
      "login",
      "--homeserver",
      "http://hs.test",
      "--user",
      "dave",
      SECRET,
    ]);
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.ok(!(err.hint ?? "").includes(SECRET), err.hint);
    assert.equal(err.message, "Too many arguments: the command takes none.");
    assert.match(err.hint ?? "", /CCHAT_PASSWORD or the first line of stdin/);
  });
  await t.step("a flag given twice names the flag, not its values", async () => {
    const err = await usageError(["login", "--user", "dave", "--user", SECRET]);
    assert.equal(err.message, "--user is given twice.");
  });
  await t.step("every command", async () => {
    for (const args of [["logout", SECRET], ["who", SECRET], ["send", "hi", SECRET]]) {
      const err = await usageError(args);
      assert.ok(!err.message.includes(SECRET), err.message);
      assert.match(err.message, /^Too many arguments: /);
    }
    assert.equal(
      (await usageError(["send", "hi", SECRET])).message,
      "Too many arguments: the command takes at most 1.",
    );
  });
});
