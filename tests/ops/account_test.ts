import assert from "node:assert/strict";
import { readCredentials } from "../../src/credentials.ts";
import { login, logout } from "../../src/ops/account.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";
import { BOB, call, commandHarness, HS, noRequests, V3 } from "../support/commands.ts";
import { opContext } from "../support/ops.ts";

Deno.test("login and logout, called directly", async (t) => {
  await t.step("a token from the environment is taken, checked, and stored", async () => {
    await using h = await commandHarness((r) =>
      call(r) === `GET ${V3}/account/whoami`
        ? json({ user_id: BOB, device_id: "DEV9" })
        : noRequests(r)
    );
    h.env.CCHAT_HOMESERVER = HS;
    h.env.CCHAT_ACCESS_TOKEN = "given-token";
    const { ctx } = opContext(h);
    assert.deepEqual(await h.clock.run(login(ctx, { token: true })), {
      user_id: BOB,
      homeserver: HS,
      device_id: "DEV9",
      already_logged_in: false,
    });
    assert.equal((await readCredentials(h.configDir))?.accessToken, "given-token");
  });

  await t.step("a stored login is kept, and no request is made", async () => {
    await using h = await commandHarness(noRequests);
    await h.login();
    const { ctx } = opContext(h);
    const result = await h.clock.run(login(ctx, { user: "bob" }));
    assert.equal(result.already_logged_in, true);
    assert.deepEqual(h.requests, []);
  });

  await t.step("logout ends the session even when the server forgot it already", async () => {
    const logouts: RecordedRequest[] = [];
    await using h = await commandHarness((r) => {
      logouts.push(r);
      return json({ errcode: "M_UNKNOWN_TOKEN", error: "gone" }, 401);
    });
    await h.login();
    const { ctx } = opContext(h);
    assert.deepEqual(await h.clock.run(logout(ctx)), { logged_out: true, user_id: BOB });
    assert.deepEqual(logouts.map(call), [`POST ${V3}/logout`]);
    assert.equal(await readCredentials(h.configDir), undefined);
    assert.deepEqual(await h.clock.run(logout(ctx)), { logged_out: false, user_id: null });
  });
});
