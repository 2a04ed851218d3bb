import assert from "node:assert/strict";
import { ConfigError, exitCodeOf, UsageError } from "../src/errors.ts";
import { formatFatal, formatTable, Output, useColor } from "../src/output.ts";
import { CapturedSink } from "./support/fakes.ts";

Deno.test("Output", async (t) => {
  const sinks = () => ({ stdout: new CapturedSink(), stderr: new CapturedSink() });
  await t.step("data to stdout, diagnostics to stderr", () => {
    const s = sinks();
    const out = new Output(s, { json: false, color: false, debug: false });
    out.line("row");
    out.data({ a: 1 });
    out.warn("careful");
    out.info("fyi");
    out.debug("hidden");
    assert.equal(s.stdout.text, 'row\n{"a":1}\n');
    assert.equal(s.stderr.text, "warning: careful\nfyi\n");
    assert.equal(out.json, false);
  });
  await t.step("debug notes and colour when asked", () => {
    const s = sinks();
    const out = new Output(s, { json: true, color: true, debug: true });
    out.debug("shown");
    out.warn("w");
    assert.equal(s.stderr.text, "\x1b[2mdebug: shown\x1b[0m\n\x1b[33mwarning:\x1b[0m w\n");
    assert.equal(out.json, true);
  });
  await t.step("NO_COLOR and non-terminals turn colour off", () => {
    assert.equal(useColor(() => undefined, true), true);
    assert.equal(useColor((n) => n === "NO_COLOR" ? "" : undefined, true), false);
    assert.equal(useColor(() => undefined, false), false);
  });
});

Deno.test("formatTable pads all but the last column", () => {
  assert.equal(
    formatTable(["A", "BB"], [["xxx", "y"], ["z", "long value"]]),
    "A    BB\nxxx  y\nz    long value",
  );
});

Deno.test("formatFatal", async (t) => {
  await t.step("a CchatError prints its message and hint, no stack", () => {
    const err = new ConfigError("No homeserver is configured.", { hint: 'Run "cchat login".' });
    assert.equal(
      formatFatal(err, { color: false, debug: false }),
      'error: No homeserver is configured.\nhint: Run "cchat login".\n',
    );
    assert.equal(exitCodeOf(err), 3);
  });
  await t.step("the stack only with debug", () => {
    const text = formatFatal(new UsageError("Bad."), { color: false, debug: true });
    assert.match(text, /^error: Bad\.\nUsageError: Bad\.\n\s+at /);
  });
  await t.step("an unexpected error says how to learn more", () => {
    assert.equal(
      formatFatal(new TypeError("x is undefined"), { color: false, debug: false }),
      "error: Unexpected failure: x is undefined\nhint: Run again with CCHAT_DEBUG=1 to see where it happened, and report it.\n",
    );
    const colored = formatFatal("plain", { color: true, debug: false });
    assert.ok(colored.startsWith("\x1b[31merror:\x1b[0m Unexpected failure: plain"), colored);
    assert.equal(exitCodeOf(new Error("x")), 1);
  });
});
