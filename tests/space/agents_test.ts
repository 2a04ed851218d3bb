import assert from "node:assert/strict";
import {
  type Heartbeat,
  heartbeatContent,
  parseHeartbeat,
  statusOf,
  toAgent,
} from "../../src/space/agents.ts";
import type { MatrixEvent } from "../../src/matrix/types.ts";

const beatEvent = (
  overrides: Partial<MatrixEvent> = {},
  content: Record<string, unknown> = {},
): MatrixEvent => ({
  event_id: "$b",
  type: "dev.cchat.heartbeat",
  sender: "@a:hs",
  state_key: "@a:hs",
  origin_server_ts: 1000,
  content: {
    name: "a",
    status: "online",
    seq: 3,
    interval_ms: 10_000,
    host: "h",
    version: "1",
    ...content,
  },
  ...overrides,
});

Deno.test("parseHeartbeat", async (t) => {
  await t.step("reads back what heartbeatContent writes", () => {
    const beat = {
      name: "a",
      status: "offline",
      seq: 9,
      intervalMs: 5000,
      host: "h",
      version: "2",
    } as const;
    const event = beatEvent({ origin_server_ts: 42 });
    assert.deepEqual(parseHeartbeat({ ...event, content: heartbeatContent(beat) }), {
      ...beat,
      userId: "@a:hs",
      ts: 42,
    });
  });
  await t.step("reads a well-formed beat with the server's timestamp", () => {
    assert.deepEqual(parseHeartbeat(beatEvent()), {
      userId: "@a:hs",
      name: "a",
      status: "online",
      seq: 3,
      intervalMs: 10_000,
      host: "h",
      version: "1",
      ts: 1000,
    });
  });
  await t.step("defaults optional fields", () => {
    const beat = parseHeartbeat(
      beatEvent({}, { interval_ms: -1, host: 5, version: null, status: "weird" }),
    );
    assert.equal(typeof beat, "object");
    const b = beat as Heartbeat;
    assert.equal(b.intervalMs, 60_000);
    assert.equal(b.host, "");
    assert.equal(b.version, "");
    assert.equal(b.status, "online");
  });
  await t.step("explains what is malformed", () => {
    assert.match(parseHeartbeat(beatEvent({ type: "m.room.name" })) as string, /not a heartbeat/);
    assert.match(parseHeartbeat(beatEvent({ state_key: "@b:hs" })) as string, /is not its sender/);
    assert.match(parseHeartbeat(beatEvent({}, { seq: "x" })) as string, /malformed/);
    assert.match(
      parseHeartbeat(beatEvent({ content: [] as unknown as Record<string, unknown> })) as string,
      /malformed/,
    );
  });
});

Deno.test("statusOf", async (t) => {
  const beat = parseHeartbeat(beatEvent()) as Heartbeat;
  await t.step("online while younger than three intervals", () => {
    assert.equal(statusOf(beat, 1000 + 29_999), "online");
    assert.equal(statusOf(beat, 1000 + 30_000), "offline");
  });
  await t.step("offline after a goodbye beat or with no beat", () => {
    assert.equal(statusOf({ ...beat, status: "offline" }, 1001), "offline");
    assert.equal(statusOf(undefined, 1001), "offline");
  });
  await t.step("toAgent fills age, host and version", () => {
    const entry = { name: "a", userId: "@a:hs", roomId: "!r", alias: "#agents-a:hs" };
    assert.deepEqual(toAgent(entry, beat, 6000), {
      ...entry,
      status: "online",
      lastBeatAgeMs: 5000,
      host: "h",
      version: "1",
    });
    assert.deepEqual(toAgent(entry, undefined, 6000), {
      ...entry,
      status: "offline",
      lastBeatAgeMs: null,
      host: "",
      version: "",
    });
  });
});
