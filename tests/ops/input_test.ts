import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import { readSecret, readStdin } from "../../src/ops/input.ts";

const stdinOf = (...bytes: number[]) => ({
  stdin: new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(bytes));
      controller.close();
    },
  }),
});
const env = () => undefined;
/** "xéy" in Latin-1: é alone is no UTF-8 character. */
const INVALID = [0x78, 0xe9, 0x79, 0x0a];

function notUtf8(err: unknown): boolean {
  assert.ok(err instanceof UsageError, `${err}`);
  assert.equal(err.message, "Standard input is not valid UTF-8.");
  assert.match(err.hint ?? "", /iconv/);
  return true;
}

Deno.test("readStdin", async (t) => {
  await t.step("decodes UTF-8", async () => {
    assert.equal(await readStdin(stdinOf(0x63, 0x61, 0x66, 0xc3, 0xa9, 0x0a)), "café\n");
  });
  await t.step("refuses bytes that are not UTF-8 instead of replacing them", async () => {
    await assert.rejects(readStdin(stdinOf(...INVALID)), notUtf8);
  });
  await t.step("refuses a truncated multi-byte character", async () => {
    await assert.rejects(readStdin(stdinOf(0x61, 0xe2, 0x82)), notUtf8);
  });
});

Deno.test("readSecret", async (t) => {
  await t.step("the first line of stdin, trimmed", async () => {
    assert.equal(
      await readSecret({ env, ...stdinOf(0x20, 0x70, 0x77, 0x0d, 0x0a, 0x78) }, "P"),
      "pw",
    );
  });
  await t.step("refuses a secret that is not UTF-8", async () => {
    await assert.rejects(readSecret({ env, ...stdinOf(...INVALID) }, "P"), notUtf8);
  });
  await t.step("the environment wins, and stdin is not read", async () => {
    assert.equal(
      await readSecret({ env: () => "from-env", ...stdinOf(...INVALID) }, "P"),
      "from-env",
    );
  });
});
