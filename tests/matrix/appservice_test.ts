import assert from "node:assert/strict";
import {
  actsFor,
  aliasesRegex,
  escapeRegex,
  localpartsOf,
  localpartsRegex,
  type Registration,
  sameSecret,
  transactionHandler,
} from "../../src/matrix/appservice.ts";
import type { MatrixEvent } from "../../src/matrix/types.ts";

const HS_TOKEN = "hs-secret";

function registration(users: string[]): Registration {
  return {
    id: "cchat",
    url: "http://127.0.0.1:9339",
    as_token: "as",
    hs_token: HS_TOKEN,
    sender_localpart: "_cchat",
    rate_limited: false,
    namespaces: {
      users: users.map((regex) => ({ exclusive: true, regex })),
      aliases: [],
      rooms: [],
    },
  };
}

Deno.test("the registration's namespaces", async (t) => {
  await t.step("a localparts regex names exactly its users, on any server", () => {
    const regex = localpartsRegex(["a.b", "c-d"]);
    assert.deepEqual(localpartsOf(regex), ["a.b", "c-d"]);
    const reg = registration([regex]);
    assert.ok(actsFor(reg, "@a.b:example.org"));
    assert.ok(actsFor(reg, "@c-d:localhost"));
    // The dot is a dot, and the name ends at the colon.
    assert.ok(!actsFor(reg, "@axb:example.org"));
    assert.ok(!actsFor(reg, "@a.bc:example.org"));
    assert.ok(!actsFor(reg, "@x:example.org"));
  });
  await t.step("any other regex names nobody by localpart, and may still match", () => {
    assert.deepEqual(localpartsOf("@agent-.*:example\\.org"), []);
    assert.deepEqual(localpartsOf(localpartsRegex([])), []);
    const reg = registration(["@agent-.*:example\\.org", "(unclosed"]);
    assert.ok(actsFor(reg, "@agent-7:example.org"));
    assert.ok(!actsFor(reg, "@human:example.org"));
  });
  await t.step("aliases under a prefix and its names", () => {
    const regex = new RegExp(`^${aliasesRegex(escapeRegex("agents.x"))}$`);
    assert.ok(regex.test("#agents.x:example.org"));
    assert.ok(regex.test("#agents.x-lobby:example.org"));
    assert.ok(!regex.test("#agentsyx:example.org"));
    assert.ok(!regex.test("#other:example.org"));
  });
  await t.step("secrets compare equal only when equal", () => {
    assert.ok(sameSecret("abc", "abc"));
    assert.ok(!sameSecret("abd", "abc"));
    assert.ok(!sameSecret("ab", "abc"));
    assert.ok(!sameSecret("abcd", "abc"));
  });
});

const EVENT: MatrixEvent = {
  event_id: "$1",
  type: "m.room.message",
  sender: "@h:x",
  origin_server_ts: 1,
  room_id: "!r:x",
  content: { msgtype: "m.text", body: "hi" },
};

function handler(apply: (txnId: string, events: MatrixEvent[]) => Promise<void> = async () => {}) {
  const logged: string[] = [];
  const applied: [string, MatrixEvent[]][] = [];
  let heard = 0;
  const handle = transactionHandler({
    hsToken: HS_TOKEN,
    apply: async (txnId, events) => {
      await apply(txnId, events);
      applied.push([txnId, events]);
    },
    heard: () => heard++,
    log: (message) => logged.push(message),
  });
  return { handle, logged, applied, heard: () => heard };
}

/** `token` null: no token at all. */
const put = (path: string, body: unknown, token: string | null = HS_TOKEN) =>
  new Request(`http://127.0.0.1:9339${path}`, {
    method: "PUT",
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function answer(response: Response) {
  return { status: response.status, body: await response.json() };
}

Deno.test("transactionHandler", async (t) => {
  await t.step("applies a transaction and answers once it is applied", async () => {
    const h = handler();
    const response = await h.handle(put("/_matrix/app/v1/transactions/7", { events: [EVENT] }));
    assert.deepEqual(await answer(response), { status: 200, body: {} });
    assert.deepEqual(h.applied, [["7", [EVENT]]]);
    assert.equal(h.heard(), 1);
  });
  await t.step("takes the token older homeservers put in the query", async () => {
    const h = handler();
    const request = new Request(
      `http://127.0.0.1:9339/_matrix/app/v1/transactions/8?access_token=${HS_TOKEN}`,
      { method: "PUT", body: JSON.stringify({ events: [] }) },
    );
    assert.equal((await answer(await h.handle(request))).status, 200);
    assert.deepEqual(h.applied, [["8", []]]);
  });
  await t.step("a wrong or missing token changes nothing", async () => {
    const h = handler();
    const wrong = await answer(
      await h.handle(put("/_matrix/app/v1/transactions/9", { events: [EVENT] }, "guess")),
    );
    assert.deepEqual(wrong, {
      status: 403,
      body: { errcode: "M_FORBIDDEN", error: "Wrong homeserver token" },
    });
    const missing = await answer(
      await h.handle(put("/_matrix/app/v1/transactions/9", { events: [EVENT] }, null)),
    );
    assert.equal(missing.status, 401);
    assert.equal(missing.body.errcode, "M_MISSING_TOKEN");
    const malformed = new Request("http://127.0.0.1:9339/_matrix/app/v1/transactions/9", {
      method: "PUT",
      headers: { authorization: `Basic ${HS_TOKEN}` },
      body: "{}",
    });
    assert.equal((await answer(await h.handle(malformed))).status, 403);
    assert.deepEqual(h.applied, []);
    assert.equal(h.heard(), 0);
    assert.equal(h.logged.length, 3);
    assert.ok(h.logged.every((line) => !line.includes(HS_TOKEN) && !line.includes("guess")));
  });
  await t.step("a body that is no transaction is refused", async () => {
    const h = handler();
    const notJson = await h.handle(put("/_matrix/app/v1/transactions/10", "{"));
    assert.equal((await answer(notJson)).body.errcode, "M_NOT_JSON");
    const noEvents = await h.handle(put("/_matrix/app/v1/transactions/10", { events: 3 }));
    assert.deepEqual((await answer(noEvents)).status, 400);
    assert.deepEqual(h.applied, []);
  });
  await t.step("a transaction that fails to apply is not acknowledged", async () => {
    const h = handler(() => Promise.reject(new Error("disk full")));
    const response = await h.handle(put("/_matrix/app/v1/transactions/11", { events: [EVENT] }));
    assert.equal((await answer(response)).status, 500);
    assert.deepEqual(h.logged, ['Transaction "11" was not applied: disk full']);
  });
  await t.step(
    "pings are answered; nothing is made on demand; other paths are not ours",
    async () => {
      const h = handler();
      const ping = new Request("http://127.0.0.1:9339/_matrix/app/v1/ping", {
        method: "POST",
        headers: { authorization: `Bearer ${HS_TOKEN}` },
        body: "{}",
      });
      assert.deepEqual(await answer(await h.handle(ping)), { status: 200, body: {} });
      const user = new Request("http://127.0.0.1:9339/_matrix/app/v1/users/%40x%3Ay", {
        headers: { authorization: `Bearer ${HS_TOKEN}` },
      });
      assert.equal((await answer(await h.handle(user))).status, 404);
      const other = await h.handle(new Request("http://127.0.0.1:9339/"));
      assert.equal((await answer(other)).body.errcode, "M_UNRECOGNIZED");
    },
  );
});
