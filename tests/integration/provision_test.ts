/** The operator's commands, as child processes on the real test Synapse. */
import assert from "node:assert/strict";
import { cchat } from "../../harness/cli.ts";
import { anonymousHttp } from "../../harness/matrix.ts";
import { uniquePrefix } from "../../harness/users.ts";
import { readCredentials } from "../../src/credentials.ts";
import { randomHex } from "../../src/encoding.ts";
import { MatrixError } from "../../src/errors.ts";
import { rateLimitOverride, registerWithSharedSecret } from "../../src/matrix/admin.ts";
import { MatrixClient } from "../../src/matrix/client.ts";
import { agentConfigDir } from "../../src/ops/provision.ts";
import { testHomeserver } from "../support/homeserver.ts";

Deno.test("an operator provisions a fleet, hands out its logins and revokes them", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const root = await Deno.makeTempDir({ prefix: "cchat-fleet-" });
  const out = `${root}/fleet`;
  const [alpha, bravo, charlie, delta] = ["alpha", "bravo", "charlie", "delta"].map((name) =>
    `${name}-${randomHex(4)}`
  );
  const operator = {
    CCHAT_HOMESERVER: hs.baseUrl,
    CCHAT_ALIAS_PREFIX: prefix,
    XDG_CONFIG_HOME: `${root}/operator`,
    XDG_STATE_HOME: `${root}/operator-state`,
  };
  const http = anonymousHttp(hs.baseUrl);
  const tokenOf = async (name: string) =>
    (await readCredentials(agentConfigDir(out, name)))!.accessToken;
  const whoami = (token: string) => new MatrixClient(http.withToken(token)).whoami();
  const refused = async (token: string) => {
    await assert.rejects(whoami(token), (err: MatrixError) => {
      assert.ok(err instanceof MatrixError);
      assert.equal(err.status, 401);
      return true;
    });
  };
  const admin = await registerWithSharedSecret(http, hs.registrationSecret, {
    username: `admin-${randomHex(4)}`,
    password: randomHex(12),
    admin: true,
  });
  try {
    await t.step("the shared secret from stdin makes two agents with private logins", async () => {
      const made = await cchat(
        ["provision", "--out", out, alpha, bravo],
        operator,
        `${hs.registrationSecret}\n`,
      );
      assert.equal(made.code, 0, made.stderr);
      assert.doesNotMatch(made.stdout + made.stderr, new RegExp(hs.registrationSecret));
      for (const name of [alpha, bravo]) {
        const file = `${agentConfigDir(out, name)}/credentials.json`;
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
        assert.doesNotMatch(made.stdout, new RegExp(await tokenOf(name)));
      }
      const who = await cchat(["who", "--json"], {
        XDG_CONFIG_HOME: `${out}/${alpha}`,
        XDG_STATE_HOME: `${root}/${alpha}-state`,
        CCHAT_ALIAS_PREFIX: prefix,
      });
      assert.equal(who.code, 0, who.stderr);
    });

    await t.step("provisioning again reports them as existing and prints no token", async () => {
      const again = await cchat(
        ["provision", "--json", "--out", out, alpha, bravo],
        { ...operator, CCHAT_REGISTRATION_SECRET: hs.registrationSecret },
      );
      assert.equal(again.code, 0, again.stderr);
      const { agents } = JSON.parse(again.stdout);
      assert.deepEqual(agents.map((a: { state: string }) => a.state), ["existing", "existing"]);
      for (const name of [alpha, bravo]) {
        assert.doesNotMatch(again.stdout, new RegExp(await tokenOf(name)));
      }
    });

    await t.step("--rooms registers the agent before any daemon runs", async () => {
      const made = await cchat(
        ["provision", "--json", "--out", out, "--rooms", charlie],
        { ...operator, CCHAT_REGISTRATION_SECRET: hs.registrationSecret },
      );
      assert.equal(made.code, 0, made.stderr);
      const [agent] = JSON.parse(made.stdout).agents;
      assert.match(agent.room_id, /^!/);
      const client = new MatrixClient(http.withToken(await tokenOf(charlie)));
      const { roomId } = await client.resolveAlias(`#${prefix}-${charlie}:${hs.serverName}`);
      assert.equal(roomId, agent.room_id);
    });

    await t.step("the admin token makes an agent and lifts its rate limits", async () => {
      const made = await cchat(
        ["provision", "--json", "--out", out, "--no-rate-limit", delta],
        { ...operator, CCHAT_ADMIN_TOKEN: admin.accessToken },
      );
      assert.equal(made.code, 0, made.stderr);
      const [agent] = JSON.parse(made.stdout).agents;
      assert.deepEqual([agent.state, agent.rate_limit], ["created", { lifted: true }]);
      assert.equal((await whoami(await tokenOf(delta))).userId, agent.user_id);
      assert.deepEqual(await rateLimitOverride(http.withToken(admin.accessToken), agent.user_id), {
        messages_per_second: 0,
        burst_count: 0,
      });
    });

    await t.step("revoke ends the stored login, or with the admin token every device", async () => {
      const [alphaToken, bravoToken] = [await tokenOf(alpha), await tokenOf(bravo)];
      const stored = await cchat(["revoke", "--json", "--out", out, alpha], operator);
      assert.equal(stored.code, 0, stored.stderr);
      assert.equal(JSON.parse(stored.stdout).stored_login_revoked, true);
      await refused(alphaToken);

      const devices = await cchat(["revoke", "--json", bravo], {
        ...operator,
        CCHAT_ADMIN_TOKEN: admin.accessToken,
      });
      assert.equal(devices.code, 0, devices.stderr);
      assert.equal(JSON.parse(devices.stdout).devices_deleted, 1);
      await refused(bravoToken);

      // A token the admin API issued has no device: only its own logout ends it.
      const deltaToken = await tokenOf(delta);
      const issued = await cchat(["revoke", "--out", out, delta], operator);
      assert.equal(issued.code, 0, issued.stderr);
      await refused(deltaToken);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
