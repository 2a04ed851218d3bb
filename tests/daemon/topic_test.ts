import assert from "node:assert/strict";
import { StatusTopic, statusTopic } from "../../src/daemon/topic.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { fakeFetch, json, VirtualClock } from "../support/fakes.ts";

const NOW = Date.UTC(2026, 11, 1, 10, 20, 33);

function topicOf(current: string | null) {
  const clock = new VirtualClock(NOW);
  const fake = fakeFetch(
    (r) =>
      r.method === "GET"
        ? current === null
          ? json({ errcode: "M_NOT_FOUND", error: "no topic" }, 404)
          : json({ type: "m.room.topic", content: { topic: current } })
        : json({ event_id: "$t" }),
    clock,
  );
  const deps = { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 };
  const client = new MatrixClient(new MatrixHttp({ baseUrl: "http://hs.test", deps }));
  const writes = () => fake.requests.filter((r) => r.method === "PUT").map((r) => r.body);
  return { topic: new StatusTopic(client, "build-01", clock.now), writes };
}

Deno.test("statusTopic", () => {
  assert.equal(
    statusTopic("online", "build-01", NOW),
    "started on build-01 at 2026-12-01 10:20 UTC; its presence shows whether it still runs",
  );
  assert.equal(statusTopic("offline", "build-01", NOW), "stopped at 2026-12-01 10:20 UTC");
  // Nothing in it goes stale when the process dies without a word.
  assert.doesNotMatch(statusTopic("online", "build-01", NOW), /\b(online|offline|running)\b/);
});

Deno.test("StatusTopic", async (t) => {
  await t.step("set always writes the topic", async () => {
    const { topic, writes } = topicOf(
      "started on build-01 at 2026-12-01 09:00 UTC; its presence shows whether it still runs",
    );
    await topic.set("!own", "online");
    assert.deepEqual(writes(), [{
      topic:
        "started on build-01 at 2026-12-01 10:20 UTC; its presence shows whether it still runs",
    }]);
  });
  await t.step("keep leaves a topic that already says the status", async () => {
    const { topic, writes } = topicOf(
      "started on build-01 at 2026-12-01 09:00 UTC; its presence shows whether it still runs",
    );
    await topic.keep("!own", "online");
    assert.deepEqual(writes(), []);
  });
  await t.step("keep writes when the status changed, or there was no topic of ours", async () => {
    for (
      const current of [
        "started on build-01 at 2026-12-01 09:00 UTC; its presence shows whether it still runs",
        null,
        "Room of x",
      ]
    ) {
      const { topic, writes } = topicOf(current);
      await topic.keep("!own", "offline");
      assert.deepEqual(writes(), [{ topic: "stopped at 2026-12-01 10:20 UTC" }], `${current}`);
    }
  });
});
