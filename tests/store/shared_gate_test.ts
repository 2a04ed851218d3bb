import assert from "node:assert/strict";
import { kvSharedGate } from "../../src/store/shared_gate.ts";
import { VirtualClock } from "../support/fakes.ts";

const TOKEN = "syt_secret_token";

/** Two processes of one account: two gates on one KV file, on one virtual clock. */
async function twoProcesses() {
  const clock = new VirtualClock();
  const kv = clock.realKv(await Deno.openKv(":memory:"));
  const deps = { now: clock.now, sleep: clock.sleep, random: () => 0.5 };
  return {
    clock,
    kv,
    a: kvSharedGate(kv, deps, TOKEN),
    b: kvSharedGate(kv, deps, TOKEN),
    [Symbol.dispose]: () => kv.close(),
  };
}

Deno.test("kvSharedGate", async (t) => {
  await t.step("an open gate lets requests through at once and writes nothing", async () => {
    using p = await twoProcesses();
    assert.equal(await p.clock.run(p.a.enter(120_000)), 0);
    assert.equal(await p.clock.run(p.b.enter(120_000)), 0);
    assert.deepEqual(p.clock.sleeps, []);
    assert.equal((await Array.fromAsync(p.kv.list({ prefix: [] }))).length, 0);
  });

  await t.step("another process's 429 holds this one, then the queue is paced", async () => {
    using p = await twoProcesses();
    const start = p.clock.now();
    await p.clock.run(p.a.refused(1_000));
    const released: number[] = [];
    await p.clock.run(Promise.all([
      p.b.enter(120_000).then(() => released.push(p.clock.now() - start)),
      p.a.enter(120_000).then(() => released.push(p.clock.now() - start)),
      p.b.enter(120_000).then(() => released.push(p.clock.now() - start)),
    ]));
    assert.deepEqual(released.sort((x, y) => x - y), [1_000, 2_000, 3_000]);
  });

  await t.step("a wait past the cap is returned, not slept", async () => {
    using p = await twoProcesses();
    await p.clock.run(p.a.refused(50_000));
    assert.equal(await p.clock.run(p.b.enter(10_000)), 50_000);
    assert.deepEqual(p.clock.sleeps, []);
  });

  await t.step("once the queue has drained the gate is open again", async () => {
    using p = await twoProcesses();
    await p.clock.run(p.a.refused(1_000));
    await p.clock.run(p.b.enter(120_000));
    const sleeps = p.clock.sleeps.length;
    await p.clock.run(p.clock.sleep(5_000));
    assert.equal(await p.clock.run(p.a.enter(120_000)), 0);
    assert.equal(await p.clock.run(p.b.enter(120_000)), 0);
    assert.equal(p.clock.sleeps.length, sleeps + 1, "only the test's own sleep");
  });

  await t.step("a refusal while a process waits moves it behind the new hold", async () => {
    using p = await twoProcesses();
    const start = p.clock.now();
    await p.clock.run(p.a.refused(1_000));
    const waiting = p.b.enter(120_000).then(() => p.clock.now() - start);
    // Half-way through b's wait, a is refused again for longer.
    const late = p.clock.sleep(500).then(() => p.a.refused(4_000));
    const [waited] = await p.clock.run(Promise.all([waiting, late]));
    assert.equal(waited, 4_500);
  });

  await t.step("the access token never reaches the file", async () => {
    using p = await twoProcesses();
    await p.clock.run(p.a.refused(1_000));
    const entries = await Array.fromAsync(p.kv.list({ prefix: [] }));
    assert.equal(entries.length, 1);
    assert.doesNotMatch(JSON.stringify(entries.map((e) => [e.key, e.value])), /secret/);
  });
});
