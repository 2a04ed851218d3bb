import assert from "node:assert/strict";
import { realDeps, realSleep } from "../src/deps.ts";

Deno.test("realSleep", async (t) => {
  await t.step("resolves after the delay", async () => {
    const started = performance.now();
    await realSleep(20);
    assert.ok(performance.now() - started >= 15);
  });
  await t.step("rejects with the reason when aborted, before or during", async () => {
    await assert.rejects(realSleep(10, AbortSignal.abort(new Error("early"))), /early/);
    const controller = new AbortController();
    const sleeping = realSleep(10_000, controller.signal);
    controller.abort(new Error("late"));
    await assert.rejects(sleeping, /late/);
  });
});

Deno.test("realDeps wires the real world", async () => {
  const deps = realDeps();
  assert.equal(typeof deps.now(), "number");
  assert.ok(deps.random() >= 0 && deps.random() < 1);
  assert.equal(deps.hostname(), Deno.hostname());
  assert.equal(deps.env("PATH"), Deno.env.get("PATH"));
  const kv = await deps.openKv(":memory:");
  kv.close();
  deps.stderr.write("");
  deps.stdout.write("");
  await deps.sleep(0);
  assert.equal(typeof deps.fetch, "function");
});
