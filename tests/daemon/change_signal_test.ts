import assert from "node:assert/strict";
import { fileSignal } from "../../src/daemon/change_signal.ts";
import { watchFile } from "../../src/deps.ts";

/** Two processes' views of one data directory's signal file. */
async function twoViews() {
  const dir = await Deno.makeTempDir({ prefix: "cchat-signal-" });
  const path = `${dir}/inbox.signal`;
  return {
    path,
    daemon: await fileSignal(path, { watchFile }),
    reader: await fileSignal(path, { watchFile }),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("fileSignal", async (t) => {
  await t.step("a notify wakes a reader watching the file", async () => {
    await using views = await twoViews();
    const stop = new AbortController();
    const woken = views.reader.changed(stop.signal);
    await views.daemon.notify();
    await woken;
  });

  await t.step("a reader that stops watching is rejected with its reason", async () => {
    await using views = await twoViews();
    const stop = new AbortController();
    const watching = views.reader.changed(stop.signal);
    stop.abort(new Error("done"));
    await assert.rejects(watching, /done/);
  });

  await t.step("the file is private and opening it again keeps it", async () => {
    await using views = await twoViews();
    assert.equal((await Deno.stat(views.path)).mode! & 0o777, 0o600);
    await views.daemon.notify();
    await fileSignal(views.path, { watchFile });
    assert.equal(await Deno.readTextFile(views.path), ".");
  });

  await t.step("hundreds of waiters in one process all wake, on one system watch", async () => {
    await using views = await twoViews();
    const stop = new AbortController();
    // More than Linux's default of 128 inotify instances per user, as a large fleet daemon has.
    const woken = Array.from({ length: 300 }, () => views.reader.changed(stop.signal));
    await views.daemon.notify();
    await Promise.all(woken);
  });
});
