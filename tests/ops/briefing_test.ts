import assert from "node:assert/strict";
import { excerpt } from "../../src/ops/briefing.ts";

Deno.test("excerpt", async (t) => {
  await t.step("a short text is kept whole", () => {
    assert.deepEqual(excerpt("hello", 5), { text: "hello", truncated: false });
  });

  await t.step("a long one is cut with an ellipsis, within the bound", () => {
    assert.deepEqual(excerpt("abcdefgh", 5), { text: "abcd…", truncated: true });
  });

  await t.step("an escape counts at its escaped length and is never split", () => {
    assert.deepEqual(excerpt("a\nb", 4), { text: "a\\nb", truncated: false });
    assert.deepEqual(excerpt("ab\x07cd", 6), { text: "ab…", truncated: true });
  });

  await t.step("a surrogate pair is never split", () => {
    assert.deepEqual(excerpt("a😀😀", 4), { text: "a😀…", truncated: true });
    assert.deepEqual(excerpt("a😀😀", 3), { text: "a…", truncated: true });
  });

  await t.step("DEL, C1 controls, separators and hiding characters are escaped too", () => {
    assert.equal(excerpt("\x7f\x85\u2029", Infinity).text, "\\x7f\\x85\\u2029");
    assert.equal(
      excerpt("a\u{e0041}\u200b\ufeff\u200e", Infinity).text,
      "a\\u{e0041}\\u200b\\ufeff\\u200e",
    );
  });
  await t.step("an astral escape is never split either", () => {
    assert.deepEqual(excerpt("ab\u{e0041}", 10), { text: "ab…", truncated: true });
  });
});
