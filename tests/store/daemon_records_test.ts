import assert from "node:assert/strict";
import { DaemonRecords } from "../../src/store/daemon_records.ts";
import type { DaemonStatus } from "../../src/store/types.ts";

const deps = { sleep: () => Promise.resolve(), random: () => 0.5 };

async function withRecords(work: (records: DaemonRecords, kv: Deno.Kv) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await work(new DaemonRecords(kv, deps, "@bob:hs"), kv);
  } finally {
    kv.close();
  }
}

const status: DaemonStatus = {
  pid: 4242,
  host: "h",
  name: "builder",
  startedAt: 1_700_000_000_000,
  lastSyncAt: null,
  state: "booting",
  lastError: null,
  failure: null,
  spaceId: "!space:hs",
  lobbyId: "!lobby:hs",
  roomId: null,
  droppedSenders: 0,
};

Deno.test("DaemonRecords", async (t) => {
  await t.step("filter ids by the filter's hash", async () => {
    await withRecords(async (records) => {
      assert.equal(await records.filterId("h1"), undefined);
      await records.saveFilterId("h1", "42");
      await records.saveFilterId("h2", "43");
      assert.equal(await records.filterId("h1"), "42");
      assert.equal(await records.filterId("h2"), "43");
      await records.saveFilterId("h1", "44");
      assert.equal(await records.filterId("h1"), "44");
    });
  });

  await t.step("the status round trips", async () => {
    await withRecords(async (records) => {
      assert.equal(await records.status(), undefined);
      await records.saveStatus(status);
      assert.deepEqual(await records.status(), status);
      const running = { ...status, state: "running" as const, lastSyncAt: 1, lastError: "boom" };
      await records.saveStatus(running);
      assert.deepEqual(await records.status(), running);
    });
  });

  await t.step("two users of one file do not mix", async () => {
    await withRecords(async (bob, kv) => {
      const alice = new DaemonRecords(kv, deps, "@alice:hs");
      await alice.saveFilterId("h", "fa");
      assert.equal(await bob.filterId("h"), undefined);
      await bob.saveStatus(status);
      assert.equal(await alice.status(), undefined);
      assert.equal((await bob.status())?.name, "builder");
    });
  });
});
