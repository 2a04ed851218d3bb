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

  await t.step("DEL, C1 controls and Unicode line separators are escaped too", () => {
    assert.equal(excerpt("\x7f\x85\u2029", Infinity).text, "\\u007f\\u0085\\u2029");
  });
});
