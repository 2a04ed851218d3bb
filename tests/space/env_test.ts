import assert from "node:assert/strict";
import { CchatError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { MatrixHttp } from "../../src/matrix/http.ts";
import { spaceEnv } from "../../src/space/env.ts";
import { DEFAULT_STALE_AFTER } from "../../src/defaults.ts";

const deps = {
  fetch: () => Promise.reject(new Error("no fetch")),
  now: () => 0,
  sleep: () => Promise.resolve(),
  random: () => 0.5,
};
const client = new MatrixClient(new MatrixHttp({ baseUrl: "http://hs.test", deps }));
const options = { client, prefix: "agents", federate: false, deps, log: silentLogger };

Deno.test("spaceEnv", async (t) => {
  await t.step("derives the server and the aliases from the user id", () => {
    const env = spaceEnv({ ...options, userId: "@me:example.org:8448" });
    assert.equal(env.serverName, "example.org:8448");
    assert.equal(env.aliases.lobby, "#agents-lobby:example.org:8448");
    assert.equal(env.staleAfter, DEFAULT_STALE_AFTER);
  });
  await t.step("a stored user id that is not one is an error with a fix", () => {
    assert.throws(() => spaceEnv({ ...options, userId: "me" }), (err: Error) => {
      assert.ok(err instanceof CchatError);
      assert.equal(err.message, 'The account\'s user id "me" is not a Matrix user id.');
      assert.match(err.hint ?? "", /cchat login --force/);
      return true;
    });
  });
});
