import assert from "node:assert/strict";
import { MatrixError, NetworkError, RateLimitError } from "../../src/errors.ts";
import { MatrixHttp, MAX_ATTEMPTS, path } from "../../src/matrix/http.ts";
import { RateGates } from "../../src/matrix/rate_gate.ts";
import { realSleep } from "../../src/deps.ts";
import { fakeFetch, json, type RecordedRequest, VirtualClock } from "../support/fakes.ts";

const TOKEN = "syt_secret_token_value";
const BASE = "http://hs.test";

function transport(
  handler: (r: RecordedRequest) => Response | Promise<Response>,
  options: { maxRetryWaitMs?: number; random?: () => number; requestTimeoutMs?: number } = {},
) {
  const clock = new VirtualClock();
  const fake = fakeFetch(handler, clock);
  const log: string[] = [];
  const http = new MatrixHttp({
    baseUrl: BASE + "/",
    accessToken: TOKEN,
    deps: {
      fetch: fake.fetch,
      now: clock.now,
      sleep: clock.sleep,
      random: options.random ?? (() => 0.5),
    },
    maxRetryWaitMs: options.maxRetryWaitMs,
    requestTimeoutMs: options.requestTimeoutMs,
    log: (m) => log.push(m),
  });
  return { http, clock, requests: fake.requests, log };
}

const limited = (headers: Record<string, string> = {}, retryAfterMs?: number) =>
  json(
    { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: retryAfterMs },
    429,
    headers,
  );

Deno.test("path encodes every interpolated segment", async (t) => {
  await t.step("aliases with a hash, colon and odd characters", () => {
    assert.equal(
      path`/directory/room/${"#agent-a/b?c d:example.org"}`,
      "/directory/room/%23agent-a%2Fb%3Fc%20d%3Aexample.org",
    );
  });
  await t.step("the literal parts are kept", () => {
    assert.equal(
      path`/rooms/${"!x:y"}/state/${"m.room.name"}/${""}`,
      "/rooms/!x%3Ay/state/m.room.name/",
    );
  });
});

Deno.test("MatrixHttp.request", async (t) => {
  await t.step("sends the token, JSON body and query, and returns JSON", async () => {
    const { http, clock, requests } = transport(() => json({ ok: 1 }));
    const value = await clock.run(
      http.request("PUT", "/x", {
        body: { a: 1 },
        query: { q: "v", n: undefined, via: ["a", "b"] },
      }),
    );
    assert.deepEqual(value, { ok: 1 });
    assert.equal(requests[0].headers.get("authorization"), `Bearer ${TOKEN}`);
    assert.equal(requests[0].headers.get("content-type"), "application/json");
    assert.deepEqual(requests[0].body, { a: 1 });
    assert.equal(requests[0].url.search, "?q=v&via=a&via=b");
    assert.equal(requests[0].url.origin + requests[0].url.pathname, `${BASE}/x`);
  });

  await t.step("an application service's token acts as its user on every request", async () => {
    const { http, clock, requests } = transport(() => json({}));
    const agent = http.withToken("as-token", "@ann:hs.test");
    await clock.run(agent.request("GET", "/x", { query: { q: "v" } }));
    assert.equal(requests[0].headers.get("authorization"), "Bearer as-token");
    assert.equal(requests[0].url.search, "?user_id=%40ann%3Ahs.test&q=v");
  });

  await t.step("turns an error answer into a MatrixError with status and errcode", async () => {
    const { http, clock } = transport(() =>
      json({ errcode: "M_FORBIDDEN", error: "You are not invited" }, 403)
    );
    await clock.run(assert.rejects(http.request("GET", "/y"), (err: Error) => {
      assert.ok(err instanceof MatrixError);
      assert.equal(err.status, 403);
      assert.equal(err.errcode, "M_FORBIDDEN");
      assert.equal(err.message, "GET /y failed: 403 M_FORBIDDEN: You are not invited");
      assert.equal(err.exitCode, 1);
      return true;
    }));
  });

  await t.step("maps 401 to the auth exit code", async () => {
    const { http, clock } = transport(() =>
      json({ errcode: "M_UNKNOWN_TOKEN", error: "Invalid token" }, 401)
    );
    await clock.run(assert.rejects(http.request("GET", "/y"), { exitCode: 4 }));
  });

  await t.step("describes a non-JSON error answer", async () => {
    const { http, clock } = transport(() =>
      new Response("<html>bad gateway</html>", { status: 500 })
    );
    await clock.run(assert.rejects(http.request("GET", "/y"), (err: MatrixError) => {
      assert.equal(err.errcode, "M_UNKNOWN");
      assert.match(err.message, /unexpected answer "<html>bad gateway<\/html>"/);
      return true;
    }));
    const empty = transport(() => new Response("", { status: 500 }));
    await empty.clock.run(assert.rejects(empty.http.request("GET", "/y"), (err: Error) => {
      assert.match(err.message, /the answer had no body/);
      return true;
    }));
  });

  await t.step("never puts the access token in an error or log", async () => {
    const { http, clock, log } = transport(() =>
      Promise.reject(new TypeError("connection refused"))
    );
    await clock.run(assert.rejects(http.request("GET", "/y"), (err: Error) => {
      assert.ok(err instanceof NetworkError);
      assert.equal(log.length, MAX_ATTEMPTS - 1);
      for (
        const text of [err.message, err.hint ?? "", err.stack ?? "", ...log, Deno.inspect(http)]
      ) {
        assert.ok(!text.includes(TOKEN), `token leaked into: ${text}`);
      }
      return true;
    }));
  });

  await t.step("rejects a 200 answer that is not JSON", async () => {
    const { http, clock } = transport(() => new Response("nope"));
    await clock.run(assert.rejects(http.request("POST", "/y"), { errcode: "M_NOT_JSON" }));
  });
});

Deno.test("MatrixHttp retries", async (t) => {
  await t.step("waits by the Retry-After header, then succeeds with the same request", async () => {
    let calls = 0;
    const { http, clock, requests } = transport(() =>
      ++calls === 1 ? limited({ "retry-after": "2" }, 1950) : json({ event_id: "$e" })
    );
    const value = await clock.run(http.request("PUT", "/send/txn1", { body: {} }));
    assert.deepEqual(value, { event_id: "$e" });
    assert.equal(requests.length, 2);
    assert.equal(requests[1].at - requests[0].at, 2000);
    assert.equal(requests[1].url.pathname, "/send/txn1");
  });

  await t.step("falls back to retry_after_ms", async () => {
    let calls = 0;
    const { http, clock, requests } = transport(() => ++calls === 1 ? limited({}, 1950) : json({}));
    await clock.run(http.request("GET", "/z"));
    assert.equal(requests[1].at - requests[0].at, 1950);
  });

  await t.step("falls back to jittered backoff without a hint", async () => {
    let calls = 0;
    const { http, clock, requests } = transport(() => ++calls === 1 ? limited() : json({}), {
      random: () => 0,
    });
    await clock.run(http.request("GET", "/z"));
    assert.equal(requests[1].at - requests[0].at, 250);
  });

  await t.step("makes at most three attempts, then raises a rate-limit error", async () => {
    const { http, clock, requests } = transport(() => limited({ "retry-after": "1" }));
    await clock.run(
      assert.rejects(http.request("POST", "/createRoom", { body: {} }), (err: Error) => {
        assert.ok(err instanceof RateLimitError);
        assert.equal(err.exitCode, 6);
        assert.equal(requests.length, 3);
        assert.match(err.message, /still rate limited after 3 attempts/);
        return true;
      }),
    );
  });

  await t.step("raises at once when the server asks for more than the cap", async () => {
    const { http, clock, requests } = transport(() => limited({ "retry-after": "300" }), {
      maxRetryWaitMs: 60_000,
    });
    await clock.run(
      assert.rejects(http.request("POST", "/createRoom", { body: {} }), (err: Error) => {
        assert.ok(err instanceof RateLimitError);
        assert.equal(requests.length, 1);
        assert.equal(err.retryAfterMs, 300_000);
        assert.match(err.message, /asked to wait 300 s, longer than the 60 s cap/);
        assert.match(err.hint ?? "", /CCHAT_MAX_RETRY_WAIT/);
        return true;
      }),
    );
  });

  await t.step("retries network errors and 502/503/504 on idempotent calls only", async () => {
    for (
      const failure of [
        () => Promise.reject(new TypeError("reset")),
        () => json({}, 503),
        () => json({}, 502),
        () => json({}, 504),
      ]
    ) {
      let calls = 0;
      const { http, clock, requests } = transport(
        () => ++calls < 3 ? failure() : json({ ok: true }),
        { random: () => 0 },
      );
      assert.deepEqual(await clock.run(http.request("GET", "/sync")), { ok: true });
      assert.equal(requests.length, 3);
      assert.deepEqual(clock.sleeps, [250, 500]);
    }
    const post = transport(() => json({}, 503));
    await post.clock.run(
      assert.rejects(post.http.request("POST", "/createRoom", { body: {} }), { status: 503 }),
    );
    assert.equal(post.requests.length, 1);
  });

  await t.step("does not retry other errors", async () => {
    const { http, clock, requests } = transport(() => json({ errcode: "M_UNKNOWN" }, 500));
    await clock.run(http.request("GET", "/x")).catch(() => {});
    assert.equal(requests.length, 1);
  });

  await t.step("gives up on a silent server after the request timeout", async () => {
    const { http, clock } = transport(
      () =>
        new Promise((_, reject) =>
          setTimeout(() => reject(new DOMException("aborted", "AbortError")), 30)
        ),
      { requestTimeoutMs: 5 },
    );
    await clock.run(assert.rejects(http.request("POST", "/x", { body: {} }), (err: Error) => {
      assert.ok(err instanceof NetworkError);
      assert.match(err.message, /no answer within 5 ms/);
      return true;
    }));
  });

  await t.step("a caller's abort ends the request with the caller's reason", async () => {
    const controller = new AbortController();
    const { http, clock } = transport(() => {
      controller.abort(new Error("shutting down"));
      return Promise.reject(new DOMException("aborted", "AbortError"));
    });
    await clock.run(
      assert.rejects(http.request("GET", "/x", { signal: controller.signal }), {
        message: "shutting down",
      }),
    );
  });
});

Deno.test("a 429 holds every request on the token and releases them paced", async (t) => {
  /** A token bucket like Synapse's: `burst` at once, then one per `intervalMs`. */
  function limitedServer(clock: VirtualClock, burst: number, intervalMs: number) {
    let level = 0;
    let last = clock.now();
    const attempts = new Map<string, number>();
    const handler = (r: RecordedRequest) => {
      attempts.set(r.url.pathname, (attempts.get(r.url.pathname) ?? 0) + 1);
      level = Math.max(0, level - (clock.now() - last) / intervalMs);
      last = clock.now();
      if (level + 1 > burst) {
        const waitMs = Math.ceil((level + 1 - burst) * intervalMs);
        return limited({ "retry-after": String(Math.ceil(waitMs / 1000)) }, waitMs);
      }
      level += 1;
      return json({ event_id: `$${r.url.pathname}` });
    };
    return { handler, attempts };
  }

  /** Clients on a limited server, sharing one set of gates as a process does. */
  function onLimitedServer(burst: number, intervalMs: number, maxRetryWaitMs?: number) {
    const clock = new VirtualClock();
    const server = limitedServer(clock, burst, intervalMs);
    const fake = fakeFetch(server.handler, clock);
    const deps = { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 };
    const gates = new RateGates(clock);
    const client = (accessToken: string) =>
      new MatrixHttp({ baseUrl: BASE, accessToken, deps, gates, maxRetryWaitMs });
    return { clock, server, requests: fake.requests, client };
  }

  await t.step("the users one service's token acts as queue apart", async () => {
    const clock = new VirtualClock();
    const fake = fakeFetch(() => json({}), clock);
    const gates = new RateGates(clock);
    const keys: string[] = [];
    const gateFor = gates.for.bind(gates);
    gates.for = (key) => (keys.push(key), gateFor(key));
    const deps = { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 };
    const service = new MatrixHttp({ baseUrl: BASE, accessToken: "as-token", deps, gates });
    for (const user of [undefined, "@ann:hs.test", "@bob:hs.test", "@ann:hs.test"]) {
      await clock.run(service.withToken("as-token", user).request("GET", "/x"));
    }
    assert.equal(new Set(keys).size, 3);
    assert.equal(keys[1], keys[3]);
  });

  await t.step("30 concurrent sends all succeed within three attempts each", async () => {
    const { clock, server, client } = onLimitedServer(3, 1000);
    // Two clients on one token share its gate.
    const a = client(TOKEN);
    const b = client(TOKEN);
    const start = clock.now();
    const results = await clock.run(Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => (i % 2 ? a : b).request("PUT", `/send/${i}`, { body: {} }),
      ),
    ));
    assert.equal(results.length, 30);
    assert.ok(Math.max(...server.attempts.values()) <= MAX_ATTEMPTS);
    // 3 at once, then one a second: the queue drains at the server's pace.
    const elapsed = clock.now() - start;
    assert.ok(elapsed >= 27_000 && elapsed <= 31_000, `elapsed ${elapsed}`);
  });

  await t.step("a slow limiter does not slow the queue to its own pace", async () => {
    const clock = new VirtualClock();
    const sends = limitedServer(clock, 1, 1000);
    let creations = 0;
    // Room creation refuses once, asking for 5 s; sends refill once a second.
    const fake = fakeFetch(
      (r) =>
        r.url.pathname === "/create" && creations++ === 0
          ? limited({ "retry-after": "5" })
          : sends.handler(r),
      clock,
    );
    const http = new MatrixHttp({
      baseUrl: BASE,
      accessToken: TOKEN,
      deps: { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 },
    });
    const start = clock.now();
    await clock.run(Promise.all([
      http.request("POST", "/create", { body: {} }),
      ...Array.from({ length: 8 }, (_, i) => http.request("PUT", `/s/${i}`, { body: {} })),
    ]));
    // Paced at 5 s the queue would take 40 s; at the sends' 1 s it takes about 9.
    const elapsed = clock.now() - start;
    assert.ok(elapsed <= 12_000, `took ${elapsed} ms`);
    assert.ok(Math.max(...sends.attempts.values()) <= MAX_ATTEMPTS);
  });

  await t.step("a wall clock stepping back never holds an open gate", async () => {
    const clock = new VirtualClock();
    const fake = fakeFetch(() => json({}), clock);
    const http = new MatrixHttp({
      baseUrl: BASE,
      accessToken: TOKEN,
      deps: { fetch: fake.fetch, now: clock.now, sleep: clock.sleep, random: () => 0.5 },
    });
    const requests = fake.requests;
    await clock.run(http.request("GET", "/a"));
    clock.time -= 200_000;
    await clock.run(http.request("GET", "/b"));
    assert.equal(requests.length, 2);
    assert.deepEqual(clock.sleeps, []);
  });

  await t.step("another token is not held", async () => {
    const { clock, requests, client } = onLimitedServer(1, 5000);
    const a = client("a");
    const other = client("b");
    await clock.run(a.request("PUT", "/1", { body: {} }));
    const held = a.request("PUT", "/2", { body: {} });
    const free = other.withToken("c").request("GET", "/free");
    await clock.run(Promise.all([held, free]));
    const freeAt = requests.find((r) => r.url.pathname === "/free")!.at;
    const secondAt = requests.filter((r) => r.url.pathname === "/2").at(-1)!.at;
    assert.ok(freeAt < secondAt);
  });

  await t.step("a queue longer than the cap fails fast instead of hanging", async () => {
    const { clock, client } = onLimitedServer(1, 20_000, 30_000);
    const http = client(TOKEN);
    const outcomes = await clock.run(Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => http.request("PUT", `/q/${i}`, { body: {} })),
    ));
    const failures = outcomes.filter((o) => o.status === "rejected");
    assert.ok(failures.length > 0);
    for (const f of failures) {
      assert.ok((f as PromiseRejectedResult).reason instanceof RateLimitError);
    }
    assert.equal(outcomes[0].status, "fulfilled");
  });
});

Deno.test("a web server that is not a homeserver is named in one line, with a hint", async (t) => {
  const page = "<!DOCTYPE html>\n<html>\n  <head><title>It works</title></head>\n" +
    "  <body>\n    <h1>Welcome to the web server</h1>\n  </body>\n</html>\n";
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new Response(page, {
        status: new URL(request.url).pathname === "/found" ? 200 : 404,
        headers: { "content-type": "text/html" },
      }),
  );
  const baseUrl = `http://127.0.0.1:${server.addr.port}`;
  const http = new MatrixHttp({
    baseUrl,
    deps: { fetch, now: Date.now, sleep: realSleep, random: () => 0 },
  });
  for (const [status, method, at] of [["200", "POST", "/found"], ["404", "GET", "/missing"]]) {
    await t.step(`an HTML page answered with ${status}`, async () => {
      await assert.rejects(http.request(method, at), (err: MatrixError) => {
        assert.ok(err instanceof MatrixError, `${err}`);
        assert.equal(err.exitCode, 1);
        assert.equal(err.status, Number(status));
        assert.ok(!err.message.includes("\n"), err.message);
        assert.match(err.message, /"<!DOCTYPE html> <html> <head><title>It works<\/title>/);
        assert.equal(
          err.hint,
          `The server at "${baseUrl}" does not look like a Matrix homeserver; ` +
            "check the homeserver URL.",
        );
        return true;
      });
    });
  }
});
