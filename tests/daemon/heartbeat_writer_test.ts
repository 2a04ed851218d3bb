import assert from "node:assert/strict";
import { type HeartbeatIdentity, HeartbeatWriter } from "../../src/daemon/heartbeat_writer.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "../support/fakes.ts";

const IDENTITY: HeartbeatIdentity = {
  userId: "@builder:hs",
  name: "builder",
  host: "box-1",
  version: "0.1.0",
  intervalMs: 60_000,
};

function beater(handler: (r: RecordedRequest) => Response = () => json({ event_id: "$beat" })) {
  const clock = new VirtualClock();
  const fake = fakeFetch(handler, clock);
  const http = new MatrixHttp({
    baseUrl: "http://hs.test",
    accessToken: "tok",
    deps: { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 },
  });
  // The beat's own clock, apart from the transport's, so a test may move it at will.
  const beatClock = { time: clock.time };
  const heartbeat = new HeartbeatWriter(new MatrixClient(http), IDENTITY, () => beatClock.time);
  return { heartbeat, clock, beatClock, requests: fake.requests };
}

const seqOf = (r: RecordedRequest) => (r.body as { seq: number }).seq;

Deno.test("HeartbeatWriter.beat", async (t) => {
  await t.step("PUTs dev.cchat.heartbeat keyed by the user id to every room", async () => {
    const { heartbeat, requests } = beater();
    await heartbeat.beat(["!own:hs", "!lobby:hs"], "online");
    assert.equal(requests.length, 2);
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.url.pathname}`).sort(),
      [
        "PUT /_matrix/client/v3/rooms/!lobby%3Ahs/state/dev.cchat.heartbeat/%40builder%3Ahs",
        "PUT /_matrix/client/v3/rooms/!own%3Ahs/state/dev.cchat.heartbeat/%40builder%3Ahs",
      ],
    );
    for (const r of requests) assert.equal(r.headers.get("authorization"), "Bearer tok");
  });

  await t.step("the content carries name, status, seq, interval, host and version", async () => {
    const { heartbeat, beatClock, requests } = beater();
    await heartbeat.beat(["!own:hs"], "online");
    assert.deepEqual(requests[0].body, {
      name: "builder",
      status: "online",
      seq: beatClock.time,
      interval_ms: 60_000,
      host: "box-1",
      version: "0.1.0",
    });
  });

  await t.step("the same seq goes to every room of one beat", async () => {
    const { heartbeat, requests } = beater();
    await heartbeat.beat(["!a:hs", "!b:hs", "!c:hs"], "online");
    assert.equal(new Set(requests.map(seqOf)).size, 1);
  });

  await t.step("seq strictly grows even when the clock does not move", async () => {
    const { heartbeat, beatClock, requests } = beater();
    const start = beatClock.time;
    for (let i = 0; i < 4; i++) await heartbeat.beat(["!own:hs"], "online");
    assert.deepEqual(requests.map(seqOf), [start, start + 1, start + 2, start + 3]);
  });

  await t.step("seq follows the clock when it moves on, and never goes back", async () => {
    const { heartbeat, beatClock, requests } = beater();
    const start = beatClock.time;
    await heartbeat.beat(["!own:hs"], "online");
    beatClock.time = start + 60_000;
    await heartbeat.beat(["!own:hs"], "online");
    beatClock.time = start - 5_000;
    await heartbeat.beat(["!own:hs"], "online");
    assert.deepEqual(requests.map(seqOf), [start, start + 60_000, start + 60_001]);
  });

  await t.step("an offline goodbye says offline", async () => {
    const { heartbeat, requests } = beater();
    await heartbeat.beat(["!own:hs", "!lobby:hs"], "offline");
    for (const r of requests) assert.equal((r.body as { status: string }).status, "offline");
  });

  await t.step("a refused beat rejects with the server's error", async () => {
    const { heartbeat, clock } = beater((r) =>
      r.url.pathname.includes("!lobby")
        ? json({ errcode: "M_FORBIDDEN", error: "nope" }, 403)
        : json({ event_id: "$ok" })
    );
    await clock.run(
      assert.rejects(heartbeat.beat(["!own:hs", "!lobby:hs"], "online"), {
        status: 403,
        errcode: "M_FORBIDDEN",
      }),
    );
  });

  await t.step("no rooms, no requests", async () => {
    const { heartbeat, requests } = beater();
    await heartbeat.beat([], "online");
    assert.equal(requests.length, 0);
  });
});
