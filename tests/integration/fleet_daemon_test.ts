/**
 * One `cchat daemon --agents DIR` process hosting three agents on a real
 * Synapse, each agent's own commands reading its inbox from the one data
 * directory, and a human writing to each from matrix-js-sdk.
 */
import assert from "node:assert/strict";
import { cchat, eventually, spawnDaemon, writeLogin } from "../../harness/cli.ts";
import { clientFor } from "../../harness/matrix.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { EVENT_AGENT } from "../../src/space/names.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

const NAMES = ["alpha", "bravo", "charlie"];

interface InboxEntry {
  event_id: string;
  body: string;
  route: string;
}

Deno.test("one daemon hosts three agents, each with its own inbox", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const root = await Deno.makeTempDir({ prefix: "cchat-fleet-" });
  const fleet = `${root}/fleet`;
  // The process's data directory is every agent's: their commands name it as the daemon does.
  const shared = {
    NO_COLOR: "1",
    XDG_STATE_HOME: `${root}/state`,
    CCHAT_ALIAS_PREFIX: prefix,
    CCHAT_HEARTBEAT_INTERVAL: "1",
    CCHAT_SYNC_TIMEOUT: "2",
  };
  const as = (name: string) => ({ ...shared, XDG_CONFIG_HOME: `${fleet}/${name}` });
  const users = [];
  for (const name of NAMES) {
    const user = await freshUser(hs, name);
    await writeLogin(`${fleet}/${name}`, hs.baseUrl, user);
    assert.equal((await Deno.stat(`${fleet}/${name}/cchat/credentials.json`)).mode! & 0o777, 0o600);
    users.push(user);
  }
  const human = await Human.register(hs);
  // The start-up jitter spreads the three boots over up to 2 s.
  const daemon = spawnDaemon(["--agents", fleet, "--ephemeral"], {
    ...shared,
    XDG_CONFIG_HOME: `${root}/operator`,
  });
  const who = async () => {
    const result = await cchat(["who", "--json", "--all"], as("alpha"));
    assert.equal(result.code, 0, result.stderr);
    const { agents } = JSON.parse(result.stdout) as { agents: { name: string; status: string }[] };
    return Object.fromEntries(agents.map((a) => [a.name, a.status]));
  };
  const inbox = async (name: string, peek: boolean): Promise<InboxEntry[]> => {
    const result = await cchat(["inbox", "--json", ...(peek ? ["--peek"] : [])], as(name));
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  };
  try {
    await human.start();
    await eventually("all three online", async () => {
      const seen = await who();
      return NAMES.every((name) => seen[name] === "online") ? true : undefined;
    }, 60_000);

    // Each agent went live (its topic says it started) only after the last one entered the Space.
    const client = clientFor(hs, users[0]);
    const spaceState = await client.roomState(
      (await client.resolveAlias(`#${prefix}:${hs.serverName}`)).roomId,
    );
    const lastEntry = Math.max(
      ...spaceState.filter((e) => e.type === EVENT_AGENT).map((e) => e.origin_server_ts),
    );
    for (const [i, name] of NAMES.entries()) {
      const { roomId } = await client.resolveAlias(`#${prefix}-${name}:${hs.serverName}`);
      // Only members read an agent's room: each agent reads its own.
      const own = clientFor(hs, users[i]);
      const topic = (await own.roomState(roomId)).find((e) => e.type === "m.room.topic")!;
      assert.match(String(topic.content.topic), /^started on /);
      assert.ok(topic.origin_server_ts >= lastEntry, `${name} went live before the last entry`);
    }

    // Agent rooms admit members of the Space.
    await human.joinRoom(`#${prefix}:${hs.serverName}`);
    const sent = new Map<string, string>();
    for (const name of NAMES) {
      const room = await human.joinRoom(`#${prefix}-${name}:${hs.serverName}`);
      sent.set(name, await human.send(room, `for ${name} only`));
    }
    for (const name of NAMES) {
      await eventually(
        `${name}'s message`,
        async () =>
          (await inbox(name, true)).some((m) => m.event_id === sent.get(name)) || undefined,
      );
    }
    for (const name of NAMES) {
      const messages = await inbox(name, false);
      assert.deepEqual(
        messages.map((m) => [m.event_id, m.body, m.route]),
        [[sent.get(name), `for ${name} only`, "direct"]],
        `${name}'s inbox`,
      );
    }

    const { code, stderr: log } = await daemon.stop();
    assert.equal(code, 0, log);
    for (const name of NAMES) {
      assert.match(log, new RegExp(`^\\[${name}\\] Agent "${name}" is up`, "m"));
    }
    assert.deepEqual(await who(), Object.fromEntries(NAMES.map((name) => [name, "offline"])));
  } finally {
    human.stop();
    // Idempotent: after a clean stop above, this only reads the same exit again.
    await daemon.stop();
    await Deno.remove(root, { recursive: true });
  }
});
