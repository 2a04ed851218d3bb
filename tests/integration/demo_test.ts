/** The demo tour, run in-process through the CLI against the real test homeserver. */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli.ts";
import { realDeps } from "../../src/deps.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { uniquePrefix } from "../../harness/users.ts";
import { CapturedSink } from "../support/fakes.ts";

Deno.test("the demo tours the Space twice over, the second time reusing its accounts", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const tour = async (json: boolean) => {
    const stdout = new CapturedSink();
    const stderr = new CapturedSink();
    const real = realDeps();
    const env = (name: string) =>
      name === "CCHAT_REGISTRATION_SECRET" ? hs.registrationSecret : real.env(name);
    const deps = { ...real, env, stdout, stderr };
    const args = ["demo", "--homeserver", hs.baseUrl, "--prefix", prefix];
    const code = await runCli(json ? [...args, "--json"] : args, deps);
    return { code, stdout: stdout.text, stderr: stderr.text };
  };

  await t.step("people see the agents, offline then online", async () => {
    const { code, stdout } = await tour(false);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`Space "#${prefix}:${hs.serverName}"`));
    assert.match(stdout, /reviewer\s+offline/);
    assert.match(
      stdout,
      /5\. Reviewer is back online:\n\nNAME\s+STATUS[^\n]*\nbuilder\s+online[^\n]*\nplanner\s+online[^\n]*\nreviewer\s+online/,
    );
    assert.match(stdout, /planner read it and replied/);
  });

  await t.step("machines get one JSON document", async () => {
    const { code, stdout } = await tour(true);
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.agents.length, 3);
    assert.ok(report.agents.every((a: { status: string }) => a.status === "online"));
    assert.match(report.space_id, /^!/);
  });
});
