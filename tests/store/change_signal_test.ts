import assert from "node:assert/strict";
import { fileSignal, SignalHub } from "../../src/store/change_signal.ts";
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

Deno.test("SignalHub", async (t) => {
  /** A hub whose file watches never fire, and which counts the watches still running. */
  async function hub() {
    const dir = await Deno.makeTempDir({ prefix: "cchat-hub-" });
    let watching = 0;
    const silentWatch = (_path: string, signal: AbortSignal) =>
      new Promise<void>((_, reject) => {
        watching++;
        signal.addEventListener("abort", () => (watching--, reject(signal.reason)), { once: true });
      });
    return {
      hub: new SignalHub({ watchFile: silentWatch }),
      path: `${dir}/inbox.signal`,
      watching: () => watching,
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  }

  await t.step("a notify wakes this process's waiter at once, with no file event", async () => {
    await using h = await hub();
    const [daemonSide, readerSide] = await Promise.all([
      h.hub.signal(h.path),
      h.hub.signal(h.path),
    ]);
    assert.equal(daemonSide, readerSide, "one signal per path");
    const woken = readerSide.changed(new AbortController().signal);
    await daemonSide.notify();
    await woken;
    assert.equal(h.watching(), 0, "the file watch ended with the wait");
    // Other processes still hear of it through the file.
    assert.equal(await Deno.readTextFile(h.path), ".");
  });

  await t.step("a waiter that stops is rejected with its reason, and stops watching", async () => {
    await using h = await hub();
    const signal = await h.hub.signal(h.path);
    const stop = new AbortController();
    const waiting = signal.changed(stop.signal);
    stop.abort(new Error("done"));
    await assert.rejects(waiting, /done/);
    assert.equal(h.watching(), 0);
    await assert.rejects(signal.changed(stop.signal), /done/, "already stopped");
  });

  await t.step("its waiters share one watch of the file, held while any waits", async () => {
    await using h = await hub();
    const signal = await h.hub.signal(h.path);
    const stop = new AbortController();
    const waiting = Array.from({ length: 300 }, () => signal.changed(stop.signal));
    assert.equal(h.watching(), 1);
    await signal.notify();
    await Promise.all(waiting);
    assert.equal(h.watching(), 0);
    // The next waiter watches again.
    const next = signal.changed(stop.signal);
    assert.equal(h.watching(), 1);
    stop.abort(new Error("end"));
    await assert.rejects(next, /end/);
    assert.equal(h.watching(), 0);
  });

  await t.step("another process's change wakes every waiter through the one watch", async () => {
    const dir = await Deno.makeTempDir({ prefix: "cchat-hub-" });
    try {
      const path = `${dir}/inbox.signal`;
      const signal = await new SignalHub({ watchFile }).signal(path);
      const other = await fileSignal(path, { watchFile });
      const stop = new AbortController();
      const waiting = Array.from({ length: 3 }, () => signal.changed(stop.signal));
      await other.notify();
      await Promise.all(waiting);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a notify with nobody waiting is not kept for a later waiter", async () => {
    await using h = await hub();
    const signal = await h.hub.signal(h.path);
    await signal.notify();
    const stop = new AbortController();
    const later = signal.changed(stop.signal);
    const result = await Promise.race([later.then(() => "woken"), Promise.resolve("waiting")]);
    assert.equal(result, "waiting");
    stop.abort(new Error("end"));
    await assert.rejects(later, /end/);
  });
});
