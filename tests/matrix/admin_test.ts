import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { registerWithSharedSecret, registrationMac } from "../../src/matrix/admin.ts";
import { MatrixError, NetworkError } from "../../src/errors.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";

/** A token-less transport over `fetchFn` whose waits return at once. */
const over = (fetchFn: typeof fetch, baseUrl: string) =>
  new MatrixHttp({
    baseUrl,
    deps: { fetch: fetchFn, now: () => 0, sleep: () => Promise.resolve(), random: () => 0.5 },
  });

interface Seen {
  method: string;
  url: string;
  body?: Record<string, unknown>;
}

/** A fake Synapse: answers the nonce GET, then the POST with `post`. */
function fakeSynapse(post: () => Response, nonce = "abc123") {
  const seen: Seen[] = [];
  const fetchFn = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? "GET";
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
    seen.push({ method, url: String(input), body });
    return Promise.resolve(method === "GET" ? Response.json({ nonce }) : post());
  };
  return { fetchFn: fetchFn as typeof fetch, seen };
}

const ok = () =>
  Response.json({
    user_id: "@alice:localhost",
    access_token: "syt_token",
    device_id: "DEV",
    home_server: "localhost",
  });

function nodeMac(secret: string, parts: string[]): string {
  return createHmac("sha1", secret).update(parts.join("\0")).digest("hex");
}

Deno.test("registerWithSharedSecret", async (t) => {
  await t.step("MAC matches an independent HMAC-SHA1 for fixed inputs", async () => {
    const mac = await registrationMac("s3cret", "n0nce", "alice", "pw", false);
    assert.equal(mac, nodeMac("s3cret", ["n0nce", "alice", "pw", "notadmin"]));
    // From `printf 'n0nce\0alice\0pw\0notadmin' | openssl dgst -sha1 -hmac s3cret`.
    assert.equal(mac, "c780f68391a454ff92d5fa1e43a03399a4227fe4");
  });

  await t.step("admin flag switches the MAC's last part to 'admin'", async () => {
    const admin = await registrationMac("s3cret", "n0nce", "alice", "pw", true);
    assert.equal(admin, nodeMac("s3cret", ["n0nce", "alice", "pw", "admin"]));
    assert.notEqual(admin, await registrationMac("s3cret", "n0nce", "alice", "pw", false));
  });

  await t.step("fetches a nonce, then posts a signed registration", async () => {
    const { fetchFn, seen } = fakeSynapse(ok, "n-42");
    const user = await registerWithSharedSecret(over(fetchFn, "http://hs.test/"), "sec", {
      username: "alice",
      password: "pw",
    });
    assert.deepEqual(user, {
      userId: "@alice:localhost",
      accessToken: "syt_token",
      deviceId: "DEV",
    });
    assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), [
      "GET http://hs.test/_synapse/admin/v1/register",
      "POST http://hs.test/_synapse/admin/v1/register",
    ]);
    assert.deepEqual(seen[1].body, {
      nonce: "n-42",
      username: "alice",
      password: "pw",
      admin: false,
      mac: nodeMac("sec", ["n-42", "alice", "pw", "notadmin"]),
    });
  });

  await t.step("admin: true is sent and signed as admin", async () => {
    const { fetchFn, seen } = fakeSynapse(ok);
    await registerWithSharedSecret(over(fetchFn, "http://hs.test"), "sec", {
      username: "root",
      password: "pw",
      admin: true,
    });
    assert.equal(seen[1].body?.admin, true);
    assert.equal(seen[1].body?.mac, nodeMac("sec", ["abc123", "root", "pw", "admin"]));
  });

  await t.step("a Matrix error answer becomes a MatrixError without secrets", async () => {
    const { fetchFn } = fakeSynapse(() =>
      Response.json({ errcode: "M_USER_IN_USE", error: "User ID already taken." }, { status: 400 })
    );
    const error = await registerWithSharedSecret(over(fetchFn, "http://hs.test"), "sec-XYZ", {
      username: "alice",
      password: "pw-XYZ",
    }).catch((e: unknown) => e);
    assert.ok(error instanceof MatrixError);
    assert.equal(error.status, 400);
    assert.equal(error.errcode, "M_USER_IN_USE");
    assert.equal(error.request, "POST /_synapse/admin/v1/register");
    assert.equal(
      error.message,
      "POST /_synapse/admin/v1/register failed: 400 M_USER_IN_USE: User ID already taken.",
    );
    assert.doesNotMatch(error.message, /XYZ/);
  });

  await t.step("a non-JSON error keeps the status and a retry hint", async () => {
    const { fetchFn } = fakeSynapse(() =>
      new Response("slow down", { status: 429, headers: { "retry-after": "2" } })
    );
    const error = await registerWithSharedSecret(over(fetchFn, "http://hs.test"), "sec", {
      username: "alice",
      password: "pw",
    }).catch((e: unknown) => e);
    assert.ok(error instanceof MatrixError);
    assert.equal(error.status, 429);
    assert.equal(error.errcode, "M_UNKNOWN");
    assert.equal(error.retryAfterMs, 2000);
  });

  await t.step("a failing nonce GET names the GET request", async () => {
    const fetchFn = (() =>
      Promise.resolve(
        Response.json({ errcode: "M_UNRECOGNIZED", error: "Unrecognized request" }, {
          status: 404,
        }),
      )) as typeof fetch;
    const error = await registerWithSharedSecret(over(fetchFn, "http://hs.test"), "sec", {
      username: "alice",
      password: "pw",
    }).catch((e: unknown) => e);
    assert.ok(error instanceof MatrixError);
    assert.equal(error.request, "GET /_synapse/admin/v1/register");
    assert.equal(error.status, 404);
  });

  await t.step("a network failure becomes a NetworkError with a hint", async () => {
    const fetchFn = (() => Promise.reject(new TypeError("connection refused"))) as typeof fetch;
    const error = await registerWithSharedSecret(over(fetchFn, "http://127.0.0.1:9"), "sec", {
      username: "alice",
      password: "pw",
    }).catch((e: unknown) => e);
    assert.ok(error instanceof NetworkError);
    assert.match(error.message, /"http:\/\/127\.0\.0\.1:9"/);
    assert.ok(error.hint);
  });
  await t.step("an answer without a nonce or a field says which one", async () => {
    const noNonce = fakeSynapse(ok, "");
    await assert.rejects(
      registerWithSharedSecret(over(noNonce.fetchFn, "http://hs.test"), "sec", {
        username: "alice",
        password: "pw",
      }),
      { message: 'GET /_synapse/admin/v1/register answered without "nonce".' },
    );
    const noToken = fakeSynapse(() => Response.json({ user_id: "@alice:hs", device_id: "D" }));
    await assert.rejects(
      registerWithSharedSecret(over(noToken.fetchFn, "http://hs.test"), "sec", {
        username: "alice",
        password: "pw",
      }),
      (err: Error) => {
        assert.equal(
          err.message,
          'POST /_synapse/admin/v1/register answered without "access_token".',
        );
        assert.match((err as { hint?: string }).hint ?? "", /Synapse homeserver/);
        return true;
      },
    );
  });
});
