import assert from "node:assert/strict";
import { lifeLockHeld, lifeLockPath, takeLifeLock } from "../../src/daemon/life_lock.ts";
import { realSleep } from "../../src/deps.ts";

Deno.test("the life lock", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-life-" });
  const path = await lifeLockPath(dir, "@agent:hs");
  try {
    await t.step("is named by a digest of the user id, beside the data", () => {
      assert.match(path, new RegExp(`^${dir}/sync-[0-9a-f]{16}\\.lock$`));
    });

    await t.step("with no lock file there is nothing to tell", async () => {
      assert.equal(await lifeLockHeld(path), undefined);
    });

    await t.step("held while its holder lives, let go when it ends", async () => {
      const life = await takeLifeLock(path, realSleep);
      assert.ok(life);
      assert.equal(await lifeLockHeld(path), true);
      // A second holder cannot have it meanwhile.
      assert.equal(await takeLifeLock(path, () => Promise.resolve()), undefined);
      life.release();
      assert.equal(await lifeLockHeld(path), false);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    });

    await t.step("a process killed with -9 lets go of it", async () => {
      const holder = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `const f = await Deno.open(${JSON.stringify(path)}, { write: true });` +
          `await f.lock(true); console.log("held"); await new Promise(() => setInterval(() => {}, 1000));`,
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.match((await reader.read()).value ?? "", /held/);
      assert.equal(await lifeLockHeld(path), true);
      holder.kill("SIGKILL");
      await holder.status;
      await reader.cancel();
      assert.equal(await lifeLockHeld(path), false);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
