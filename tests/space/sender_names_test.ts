import assert from "node:assert/strict";
import {
  SENDER_NAMES_TTL_MS,
  SenderNames,
  UNKNOWN_SENDER_RETRY_MS,
} from "../../src/space/sender_names.ts";
import { json } from "../support/fakes.ts";
import { err, spaceFixture } from "../support/space.ts";

const entry = (user: string, name: string) => ({
  type: "dev.cchat.agent",
  state_key: user,
  sender: user,
  content: { name, room_id: `!${name}` },
});

Deno.test("SenderNames", async (t) => {
  let state = [entry("@a:hs", "ann")];
  let fail = false;
  const { env, clock, calls } = spaceFixture((r) => {
    const path = decodeURIComponent(r.url.pathname);
    if (path.endsWith("/directory/room/#agents:hs")) return json({ room_id: "!space" });
    if (path.endsWith("!space/state")) return fail ? err(500, "M_UNKNOWN") : json(state);
    return err(404, "M_NOT_FOUND");
  });
  const names = new SenderNames(env);
  const reads = () => calls().filter((c) => c.endsWith("!space/state")).length;

  await t.step("an agent's user id gets its name; a person gets none", async () => {
    const got = await clock.run(names.of(["@a:hs", "@human:hs"]));
    assert.deepEqual([...got], [["@a:hs", "ann"]]);
    assert.equal(reads(), 1);
  });

  await t.step("a person's next messages do not read the Space again at once", async () => {
    await clock.run(names.of(["@human:hs"]));
    assert.equal(reads(), 1);
  });

  await t.step("a new agent is named once the retry pause is over", async () => {
    state = [...state, entry("@b:hs", "bea")];
    await clock.run(clock.sleep(UNKNOWN_SENDER_RETRY_MS + 1));
    assert.deepEqual([...await clock.run(names.of(["@b:hs"]))], [["@b:hs", "bea"]]);
    assert.equal(reads(), 2);
  });

  await t.step("known senders are read again only after the names are old", async () => {
    await clock.run(names.of(["@a:hs", "@b:hs"]));
    assert.equal(reads(), 2);
    await clock.run(clock.sleep(SENDER_NAMES_TTL_MS + 1));
    fail = true;
    // A Space that cannot be read keeps the names known, and fails no message.
    assert.deepEqual([...await clock.run(names.of(["@a:hs"]))], [["@a:hs", "ann"]]);
    assert.equal(reads(), 3);
  });
});
