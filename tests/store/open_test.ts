import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { FORMAT_KEY, FORMAT_VERSION } from "../../src/store/keys.ts";
import { openDataKv } from "../../src/store/open.ts";
import { Store } from "../../src/store/store.ts";

const deps = {
  openKv: (path: string) => Deno.openKv(path),
  sleep: () => Promise.resolve(),
  random: () => 0.5,
  now: () => 1_700_000_000_000,
};

/** A data directory holding the fixture: a file written by cchat before its layout had a version. */
async function dataDirWithFixture() {
  const dir = await Deno.makeTempDir({ prefix: "cchat-format-" });
  await Deno.copyFile(new URL("./fixtures/format-1.kv", import.meta.url), `${dir}/cchat.kv`);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("openDataKv", async (t) => {
  await t.step("a file of the first layout opens, is stamped, and keeps its inbox", async () => {
    await using data = await dataDirWithFixture();
    const kv = await openDataKv(deps, data.dir);
    try {
      assert.equal((await kv.get(FORMAT_KEY)).value, FORMAT_VERSION);
      const store = new Store(kv, deps, "@fixture:hs");
      const unread = await store.unread();
      assert.deepEqual(unread.map((m) => [m.id, m.eventId, m.body]), [
        [2, "$m2", "message 2"],
        [3, "$m3", "message 3"],
      ]);
      assert.equal((await store.message(1))?.eventId, "$m1", "the read one, by its short id");
      assert.equal(await store.syncToken(), "since-1");
      assert.deepEqual([...await store.sentOf(["$sent1", "$other"])], ["$sent1"]);
    } finally {
      kv.close();
    }
    // Opened again, it is left as it is.
    const again = await openDataKv(deps, data.dir);
    const stamp = await again.get(FORMAT_KEY);
    again.close();
    assert.equal(stamp.value, FORMAT_VERSION);
  });

  await t.step("a file of a newer layout is refused, named, with the way out", async () => {
    await using data = await dataDirWithFixture();
    const kv = await Deno.openKv(`${data.dir}/cchat.kv`);
    await kv.set(FORMAT_KEY, FORMAT_VERSION + 1);
    kv.close();
    await assert.rejects(openDataKv(deps, data.dir), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(
        err.message,
        `The data file "${data.dir}/cchat.kv" was written by a newer cchat (format ${
          FORMAT_VERSION + 1
        }; this one reads ${FORMAT_VERSION}).`,
      );
      assert.match(err.hint ?? "", /Upgrade cchat, or give this one a data directory/);
      return true;
    });
  });
});
