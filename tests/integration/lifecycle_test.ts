/** Heartbeats over an agent's life, cron mode, and lobby-only mode, through the real CLI. */
import assert from "node:assert/strict";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor } from "../../harness/matrix.ts";
import { type AgentCli, agentCli, eventually, statuses } from "../../harness/cli.ts";
import { EVENT_AGENT } from "../../src/space/names.ts";

const statusOf = (observer: AgentCli, name: string, wanted: string) =>
  eventually(
    `"${name}" ${wanted}`,
    async () => (await statuses(observer))[name] === wanted ? true : undefined,
  );

Deno.test("5. heartbeat lifecycle: online, SIGTERM, restart, kill -9, restart", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "life"), "life", {
    prefix,
    interval: 1,
  });
  await using observer = await agentCli(hs, await freshUser(hs, "watch"), "watch", { prefix });

  await t.step("a running daemon shows online", async () => {
    const daemon = agent.daemon();
    try {
      await statusOf(observer, "life", "online");
      const status = await agent.run(["status"]);
      assert.equal(status.code, 0, status.stdout + status.stderr);
      assert.match(status.stdout, /daemon\s+running as "life"/);
    } finally {
      const stopped = await daemon.stop("SIGTERM");
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  });

  await t.step("SIGTERM shows offline at once, through the final beat", async () => {
    assert.equal((await statuses(observer)).life, "offline");
    const status = await agent.run(["status"]);
    assert.equal(status.code, 8);
    assert.match(status.stdout, /daemon\s+not running/);
  });

  await t.step("a restart shows online again; kill -9 turns offline once stale", async () => {
    const daemon = agent.daemon();
    await statusOf(observer, "life", "online");
    const killed = await daemon.stop("SIGKILL");
    assert.notEqual(killed.code, 0);
    // Still online right after the crash: its last beat is fresh.
    assert.equal((await statuses(observer)).life, "online");
    await statusOf(observer, "life", "offline");
  });

  await t.step("and online again after another restart", async () => {
    const daemon = agent.daemon();
    try {
      await statusOf(observer, "life", "online");
    } finally {
      await daemon.stop();
    }
  });
});

Deno.test("6. cron mode: cchat heartbeat alone keeps an agent online", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using cron = await agentCli(hs, await freshUser(hs, "cron"), "cron", {
    prefix,
    interval: 60,
  });
  const first = await cron.run(["heartbeat"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, 'Beat online as "cron".\n');
  assert.equal((await statuses(cron)).cron, "online");
  // The second beat takes the cached rooms: no registration, still online.
  const second = await cron.run(["heartbeat", "--json"]);
  // Its beat room only: neither the lobby's members nor its own room's are woken by its beats.
  const cronClient = clientFor(hs, cron.user);
  const spaceId = (await cronClient.resolveAlias(`#${prefix}:${hs.serverName}`)).roomId;
  const entry = await cronClient.getStateEvent(spaceId, EVENT_AGENT, cron.user.userId);
  assert.deepEqual(JSON.parse(second.stdout).room_ids, [entry.content.beat_room_id]);
  const goodbye = await cron.run(["heartbeat", "--offline"]);
  assert.equal(goodbye.code, 0, goodbye.stderr);
  assert.equal((await statuses(cron)).cron, "offline");
});

Deno.test("7. with the Space unavailable the daemon runs and send, who and inbox work through the lobby", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  // Someone else holds the Space alias on a private room.
  const squatter = await freshUser(hs, "squat");
  await clientFor(hs, squatter).createRoom({ room_alias_name: prefix, preset: "private_chat" });
  await using a = await agentCli(hs, await freshUser(hs, "vone"), "vone", { prefix });
  await using b = await agentCli(hs, await freshUser(hs, "vtwo"), "vtwo", { prefix });
  const daemons = [a.daemon(), b.daemon()];
  try {
    await t.step("who lists both, from the lobby, with the usual columns", async () => {
      await eventually("both online", async () => {
        const seen = await statuses(a);
        return seen.vone === "online" && seen.vtwo === "online" ? true : undefined;
      });
      const table = await a.run(["who"]);
      assert.match(table.stdout.split("\n")[0], /^NAME\s+STATUS\s+LAST BEAT\s+HOST\s+ROOM$/);
      assert.match(table.stderr, /lobby-only mode/);
      const json = JSON.parse((await a.run(["who", "--json"])).stdout);
      assert.equal(json.mode, "lobby");
    });
    await t.step("a lobby message reaches the other agent's inbox", async () => {
      const sent = await a.run(["send", "lobby only"]);
      assert.equal(sent.code, 0, sent.stderr);
      const waited = await b.run(["wait", "--json", "--timeout", "20"]);
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(JSON.parse(waited.stdout).body, "lobby only");
    });
  } finally {
    for (const daemon of daemons) await daemon.stop();
  }
});

Deno.test("senders from servers not allowed are dropped and counted", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using guarded = await agentCli(hs, await freshUser(hs, "guarded"), "guarded", {
    prefix,
    extraEnv: { CCHAT_ALLOWED_SERVERS: "trusted.example" },
  });
  await using local = await agentCli(hs, await freshUser(hs, "local"), "local", { prefix });
  const daemon = guarded.daemon();
  try {
    await statusOf(local, "guarded", "online");
    assert.equal((await local.run(["send", "--to", "guarded", "let me in"])).code, 0);
    const dropped = await eventually("the drop to be counted", async () => {
      const status = JSON.parse((await guarded.run(["status", "--json"])).stdout);
      return status.daemon?.droppedSenders > 0 ? status.daemon.droppedSenders : undefined;
    });
    assert.equal(dropped, 1);
    assert.equal((await guarded.run(["inbox", "--peek"])).stderr, "No unread messages.\n");
  } finally {
    await daemon.stop();
  }
});

Deno.test("an agent that never booted can still send to another agent's room", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using target = await agentCli(hs, await freshUser(hs, "target"), "target", { prefix });
  await using newcomer = await agentCli(hs, await freshUser(hs, "newcomer"), "newcomer", {
    prefix,
  });
  assert.equal((await target.run(["heartbeat"])).code, 0);
  const sent = await newcomer.run(["send", "--to", "target", "first words"]);
  assert.equal(sent.code, 0, sent.stderr);
  const roomId =
    (await clientFor(hs, target.user).resolveAlias(`#${prefix}-target:${hs.serverName}`)).roomId;
  const { chunk } = await clientFor(hs, target.user).messages(roomId, { limit: 5 });
  assert.equal(chunk.find((e) => e.event_id === sent.stdout.trim())?.content.body, "first words");
});
