import assert from "node:assert/strict";
import { NetworkError, RateLimitError } from "../../src/errors.ts";
import { openDirectory } from "../../src/space/directory.ts";
import { json } from "../support/fakes.ts";
import { err, spaceFixture } from "../support/space.ts";

Deno.test("open degrades to lobby-only mode when the Space is unavailable", async (t) => {
  await t.step("a forbidden Space: one warning, spaceId null, lobby still joined", async () => {
    const { env, clock, log } = spaceFixture((r) =>
      decodeURIComponent(r.url.pathname).endsWith("#agents:hs")
        ? err(403, "M_FORBIDDEN")
        : json({ room_id: "!lobby" })
    );
    assert.deepEqual(await clock.run(openDirectory(env, "create")), {
      spaceId: null,
      lobbyId: "!lobby",
    });
    assert.equal(log.warnings.length, 1);
    assert.match(
      log.warnings[0],
      /The Space "#agents:hs" is unavailable \(403 M_FORBIDDEN\); working in lobby-only mode\./,
    );
  });
  await t.step("with a Space: both ids", async () => {
    const { env, clock } = spaceFixture((r) =>
      json({
        room_id: decodeURIComponent(r.url.pathname).endsWith("#agents:hs") ? "!space" : "!lobby",
      })
    );
    assert.deepEqual(await clock.run(openDirectory(env, "create")), {
      spaceId: "!space",
      lobbyId: "!lobby",
    });
  });
  await t.step(
    "rate limits and unreachable servers propagate for the caller to retry",
    async () => {
      const limited = spaceFixture(() => err(429, "M_LIMIT_EXCEEDED", { "retry-after": "500" }));
      await limited.clock.run(
        assert.rejects(openDirectory(limited.env, "create"), RateLimitError),
      );
      const down = spaceFixture(() => Promise.reject(new TypeError("refused")));
      await down.clock.run(assert.rejects(openDirectory(down.env, "create"), NetworkError));
    },
  );
});
