import assert from "node:assert/strict";
import { MatrixClient, SYNC_TIMEOUT_HEADROOM_MS, textContent } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "../support/fakes.ts";

function clientWith(handler: (r: RecordedRequest) => Response, token: string | null = "tok") {
  const clock = new VirtualClock();
  const fake = fakeFetch(handler, clock);
  const http = new MatrixHttp({
    baseUrl: "http://hs.test",
    accessToken: token ?? undefined,
    deps: { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 },
  });
  return { client: new MatrixClient(http), http, requests: fake.requests };
}

const call = (r: RecordedRequest) => `${r.method} ${r.url.pathname}${r.url.search}`;

Deno.test("MatrixClient calls", async (t) => {
  await t.step("login sends m.login.password without a token", async () => {
    const { http, requests } = clientWith(
      () => json({ user_id: "@a:hs", access_token: "new", device_id: "D1" }),
      null,
    );
    const result = await MatrixClient.login(http, {
      user: "a",
      password: "pw",
      deviceName: "cchat",
    });
    assert.deepEqual(result, { userId: "@a:hs", accessToken: "new", deviceId: "D1" });
    assert.equal(call(requests[0]), "POST /_matrix/client/v3/login");
    assert.equal(requests[0].headers.get("authorization"), null);
    assert.deepEqual(requests[0].body, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: "a" },
      password: "pw",
      initial_device_display_name: "cchat",
    });
  });

  await t.step("room calls encode ids and aliases in the path", async () => {
    const { client, requests } = clientWith((r) => {
      if (r.url.pathname.includes("/directory/room/") && r.method === "GET") {
        return json({ room_id: "!r:hs", servers: ["hs"] });
      }
      if (r.url.pathname.endsWith("/state")) return json([{ type: "m.room.name" }]);
      return json({ room_id: "!r:hs", event_id: "$e", filter_id: "7", user_id: "@a:hs" });
    });
    assert.equal(await client.join("#a b:hs", ["hs"]), "!r:hs");
    assert.deepEqual(await client.resolveAlias("#x:hs"), { roomId: "!r:hs", servers: ["hs"] });
    assert.equal(await client.createRoom({ name: "n" }), "!r:hs");
    assert.equal(await client.putState("!r:hs", "m.space.child", "!c:hs", { via: ["hs"] }), "$e");
    await client.getStateEvent("!r:hs", "dev.cchat.heartbeat", "@a:hs");
    assert.equal((await client.roomState("!r:hs")).length, 1);
    assert.equal(await client.send("!r:hs", "m.room.message", { body: "x" }, "t/1"), "$e");
    assert.equal(await client.uploadFilter("@a:hs", {}), "7");
    await client.logout();
    assert.deepEqual(await client.whoami(), { userId: "@a:hs", deviceId: undefined });
    assert.deepEqual(requests.map(call), [
      "POST /_matrix/client/v3/join/%23a%20b%3Ahs?via=hs&server_name=hs",
      "GET /_matrix/client/v3/directory/room/%23x%3Ahs",
      "POST /_matrix/client/v3/createRoom",
      "PUT /_matrix/client/v3/rooms/!r%3Ahs/state/m.space.child/!c%3Ahs",
      "GET /_matrix/client/v3/rooms/!r%3Ahs/state/dev.cchat.heartbeat/%40a%3Ahs?format=event",
      "GET /_matrix/client/v3/rooms/!r%3Ahs/state",
      "PUT /_matrix/client/v3/rooms/!r%3Ahs/send/m.room.message/t%2F1",
      "POST /_matrix/client/v3/user/%40a%3Ahs/filter",
      "POST /_matrix/client/v3/logout",
      "GET /_matrix/client/v3/account/whoami",
    ]);
  });

  await t.step("send without a txnId makes a fresh one each time", async () => {
    const { client, requests } = clientWith(() => json({ event_id: "$e" }));
    await client.sendText("!r:hs", { body: "a" });
    await client.sendText("!r:hs", { body: "a" });
    assert.notEqual(requests[0].url.pathname, requests[1].url.pathname);
  });

  await t.step("sync passes the filter, since and long-poll timeout", async () => {
    const { client, requests } = clientWith(() => json({ next_batch: "s2" }));
    await client.sync({ filter: "7", since: "s1", timeoutMs: 30_000 });
    await client.sync({});
    const [first, second] = requests.map((r) => r.url.searchParams);
    assert.equal(first.get("filter"), "7");
    assert.equal(first.get("since"), "s1");
    assert.equal(first.get("timeout"), "30000");
    assert.equal(second.get("filter"), null);
    assert.equal(second.get("since"), null);
    assert.equal(second.get("timeout"), "0");
    assert.ok(SYNC_TIMEOUT_HEADROOM_MS > 0);
  });

  await t.step("messages pages backwards by default", async () => {
    const { client, requests } = clientWith(() => json({ chunk: [], end: "e" }));
    assert.deepEqual(await client.messages("!r", { limit: 5, from: "t" }), { chunk: [], end: "e" });
    assert.equal(requests[0].url.search, "?dir=b&limit=5&from=t");
  });
});

Deno.test("textContent", async (t) => {
  await t.step("plain text and notice with mentions", () => {
    assert.deepEqual(textContent({ body: "hi" }), {
      msgtype: "m.text",
      body: "hi",
      "m.mentions": {},
    });
    assert.deepEqual(
      textContent({ body: "hi", msgtype: "m.notice", mentions: { user_ids: ["@b:hs"] } }),
      { msgtype: "m.notice", body: "hi", "m.mentions": { user_ids: ["@b:hs"] } },
    );
  });
  await t.step("reply", () => {
    assert.deepEqual(textContent({ body: "re", replyTo: "$1" })["m.relates_to"], {
      "m.in_reply_to": { event_id: "$1" },
    });
  });
  await t.step("thread, with and without a reply inside it", () => {
    assert.deepEqual(textContent({ body: "t", threadRoot: "$root" })["m.relates_to"], {
      rel_type: "m.thread",
      event_id: "$root",
      is_falling_back: true,
      "m.in_reply_to": { event_id: "$root" },
    });
    assert.deepEqual(
      textContent({ body: "t", threadRoot: "$root", replyTo: "$2" })["m.relates_to"],
      {
        rel_type: "m.thread",
        event_id: "$root",
        is_falling_back: false,
        "m.in_reply_to": { event_id: "$2" },
      },
    );
  });
});
