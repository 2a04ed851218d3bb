import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import { aliasesFor, aliasLocalpart, validateAgentName } from "../../src/space/names.ts";

Deno.test("validateAgentName", async (t) => {
  await t.step("accepts the legal alphabet", () => {
    for (const name of ["a", "builder-1", "x.y_z=w", "9".repeat(64), ".a", "a..", "a-", "=-"]) {
      assert.equal(validateAgentName(name), name);
    }
  });
  await t.step("rejects bad names with a clear message and a hint", () => {
    const cases: [string, RegExp][] = [
      ["", /The agent name is empty\./],
      ["a:b", /The agent name "a:b" contains ":"\./],
      ["two words", /contains whitespace/],
      ["x".repeat(300), /is longer than 64 bytes/],
      ["é".repeat(40), /is longer than 64 bytes/],
      ["Upper", /has characters an alias cannot carry/],
      ["a#b", /has characters an alias cannot carry/],
      ["lobby", /is reserved for the shared lobby/],
      [".", /The agent name "\." is only dots\./],
      ["..", /The agent name "\.\." is only dots\./],
      ["....", /is only dots/],
      ["-", /The agent name "-" starts with "-", which reads as a flag\./],
      ["-rf", /starts with "-"/],
      ["--name", /starts with "-"/],
    ];
    for (const [name, message] of cases) {
      assert.throws(() => validateAgentName(name), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, message);
        assert.ok(err.hint);
        assert.equal(err.exitCode, 2);
        return true;
      });
    }
  });
  await t.step("shortens a long name in the message", () => {
    assert.throws(() => validateAgentName("y".repeat(300)), /"y{40}…"/);
  });
});

Deno.test("aliases", async (t) => {
  await t.step("derive from the prefix and server", () => {
    const aliases = aliasesFor("agents", "example.org:8448");
    assert.equal(aliases.space, "#agents:example.org:8448");
    assert.equal(aliases.lobby, "#agents-lobby:example.org:8448");
    assert.equal(aliases.agent("bob"), "#agents-bob:example.org:8448");
    assert.equal(aliasLocalpart(aliases.agent("bob")), "agents-bob");
  });
  await t.step("validate the agent name", () => {
    assert.throws(() => aliasesFor("agents", "hs").agent("a b"), UsageError);
  });
});
