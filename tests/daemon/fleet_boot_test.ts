import assert from "node:assert/strict";
import { BOOT_STALL_MS, BOOTS_AT_ONCE, FleetBoot } from "../../src/daemon/fleet_boot.ts";
import { VirtualClock } from "../support/fakes.ts";

/** Whether `promise` has settled once everything else that can run has. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

Deno.test("FleetBoot", async (t) => {
  const never = new AbortController().signal;

  await t.step("opens when the last agent arrives, not before", async () => {
    const gate = new FleetBoot(["a", "b", "c"], new VirtualClock().sleep);
    const passing = gate.passed(never);
    gate.arrive("a");
    gate.arrive("a");
    gate.arrive("b");
    assert.equal(await settled(passing), false);
    assert.equal(gate.waiting, 1);
    gate.arrive("c");
    await passing;
    assert.equal(gate.waiting, 0);
  });

  await t.step("an agent it does not wait for changes nothing", async () => {
    const gate = new FleetBoot(["a"], new VirtualClock().sleep);
    gate.arrive("stranger");
    assert.equal(await settled(gate.passed(never)), false);
    gate.arrive("a");
    await gate.passed(never);
  });

  await t.step("with no agents it is open", async () => {
    const clock = new VirtualClock();
    await new FleetBoot([], clock.sleep).passed(never);
    assert.equal(clock.pendingTimers, 0);
  });

  await t.step("opens after a whole stall window with no arrival", async () => {
    const clock = new VirtualClock();
    const start = clock.now();
    const gate = new FleetBoot(["a", "b", "c"], clock.sleep);
    const passing = gate.passed(never);
    // One arrival inside the first watch: the gate waits a second full stall for the rest.
    clock.sleep(BOOT_STALL_MS / 2).then(() => gate.arrive("a"));
    await clock.run(passing);
    assert.equal(clock.now() - start, 2 * BOOT_STALL_MS);
    assert.equal(gate.waiting, 2);
  });

  await t.step("a full gate stops its watch", async () => {
    const clock = new VirtualClock();
    const gate = new FleetBoot(["a"], clock.sleep);
    assert.equal(clock.pendingTimers, 1);
    gate.arrive("a");
    await gate.passed(never);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(clock.pendingTimers, 0);
  });

  await t.step("runs at most BOOTS_AT_ONCE attempts at once, and every one", async () => {
    const boot = new FleetBoot([], new VirtualClock().sleep);
    let running = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 3 * BOOTS_AT_ONCE }, (_, i) =>
        boot.attempt(async () => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 1));
          running--;
          return i;
        })),
    );
    assert.equal(most, BOOTS_AT_ONCE);
    assert.deepEqual(results, Array.from({ length: 3 * BOOTS_AT_ONCE }, (_, i) => i));
  });

  await t.step("a waiter that stops is rejected with its reason", async () => {
    const gate = new FleetBoot(["a"], new VirtualClock().sleep);
    const stop = new AbortController();
    const passing = gate.passed(stop.signal);
    stop.abort(new Error("stopped"));
    await assert.rejects(passing, /stopped/);
    await assert.rejects(gate.passed(stop.signal), /stopped/);
    gate.arrive("a");
  });
});
