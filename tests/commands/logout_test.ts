/** `cchat logout` through runCli, against a fake homeserver. */
import assert from "node:assert/strict";
import { credentialsPath } from "../../src/credentials.ts";
import type { CchatError } from "../../src/errors.ts";
import { json } from "../support/fakes.ts";
import { BOB, call, commandHarness, exists, V3 } from "../support/commands.ts";

const harness = commandHarness;

Deno.test("logout", async (t) => {
  await t.step("POSTs /logout with the stored token and removes the file", async () => {
    await using h = await harness(() => json({}));
    await h.login();
    assert.equal(await h.cli("logout"), 0);
    assert.deepEqual(h.requests.map(call), [`POST ${V3}/logout`]);
    assert.equal(h.requests[0].headers.get("authorization"), "Bearer stored-token");
    assert.equal(h.stdout.text, `Logged out ${BOB}.\n`);
    assert.equal(await exists(credentialsPath(h.configDir)), false);
  });

  await t.step("a 401 (token already dead) still removes the file", async () => {
    await using h = await harness(() => json({ errcode: "M_UNKNOWN_TOKEN", error: "gone" }, 401));
    await h.login();
    assert.equal(await h.cli("logout", "--json"), 0);
    assert.deepEqual(JSON.parse(h.stdout.text), { logged_out: true, user_id: BOB });
    assert.equal(h.requests.length, 1);
    assert.equal(await exists(credentialsPath(h.configDir)), false);
  });

  await t.step("another failure keeps the stored login", async () => {
    await using h = await harness(() => json({ errcode: "M_UNKNOWN", error: "boom" }, 500));
    await h.login();
    await assert.rejects(h.cli("logout"), (err: CchatError & { status?: number }) => {
      assert.equal(err.status, 500);
      return true;
    });
    assert.equal(await exists(credentialsPath(h.configDir)), true);
  });

  await t.step("without a login: Not logged in, no request", async () => {
    await using h = await harness();
    assert.equal(await h.cli("logout"), 0);
    assert.equal(h.stdout.text, "Not logged in.\n");
    assert.equal(h.requests.length, 0);
    h.stdout.text = "";
    assert.equal(await h.cli("logout", "--json"), 0);
    assert.deepEqual(JSON.parse(h.stdout.text), { logged_out: false, user_id: null });
  });
});
