/**
 * A fleet run as a Matrix application service on a real Synapse: the
 * homeserver pushes the fleet's events, no agent syncs, and each agent's own
 * commands, MCP server and hooks read an inbox they cannot tell from one a
 * sync filled. A human writes from matrix-js-sdk.
 */
import assert from "node:assert/strict";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { cchat, eventually, spawnDaemon } from "../../harness/cli.ts";
import { startMcp } from "../../harness/mcp.ts";
import pMap from "p-map";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { clientFor } from "../../harness/matrix.ts";
import { restartHomeserverDatabase } from "../../harness/homeserver/mod.ts";
import type { MatrixClient } from "../../src/matrix/client.ts";
import { writeRegistration } from "../../src/ops/registration_file.ts";
import type { Registration } from "../../src/matrix/appservice.ts";
import {
  SERVICE_AGENTS,
  testHomeserver,
  testHomeserverOptions,
  testRegistration,
} from "../support/homeserver.ts";
import { Human } from "../support/human.ts";
import { type MatrixEvent, RoomEvent } from "matrix-js-sdk";

interface InboxEntry {
  event_id: string;
  body: string;
  route: string;
}

const HOOK_INPUT = JSON.stringify({
  session_id: "s",
  transcript_path: "/tmp/t.jsonl",
  cwd: "/tmp",
  hook_event_name: "UserPromptSubmit",
  prompt: "go on",
});

/**
 * A provision directory for `names`, with the test service's registration in
 * it; its agents beat every `beatS` seconds.
 */
async function fleetOf(names: string[], registration: Registration, beatS = 1) {
  const hs = await testHomeserver("appservice");
  const root = await Deno.makeTempDir({ prefix: "cchat-appservice-" });
  const fleet = `${root}/fleet`;
  const prefix = uniquePrefix();
  await writeRegistration(fleet, registration);
  const shared = {
    NO_COLOR: "1",
    XDG_STATE_HOME: `${root}/state`,
    CCHAT_ALIAS_PREFIX: prefix,
    CCHAT_HEARTBEAT_INTERVAL: String(beatS),
    CCHAT_SYNC_TIMEOUT: "2",
  };
  const operator = { ...shared, XDG_CONFIG_HOME: `${root}/operator` };
  const provisioned = await cchat(
    ["provision", "--appservice", "--out", fleet, "--homeserver", hs.baseUrl, "--json", ...names],
    operator,
  );
  assert.equal(provisioned.code, 0, provisioned.stderr);
  const as = (name: string) => ({ ...shared, XDG_CONFIG_HOME: `${fleet}/${name}` });
  const inbox = async (name: string, peek = true): Promise<InboxEntry[]> => {
    const result = await cchat(["inbox", "--json", ...(peek ? ["--peek"] : [])], as(name));
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  };
  const who = async () => {
    const result = await cchat(["who", "--json", "--all"], as(names[0]));
    assert.equal(result.code, 0, result.stderr);
    const { agents } = JSON.parse(result.stdout) as { agents: { name: string; status: string }[] };
    return Object.fromEntries(agents.map((a) => [a.name, a.status]));
  };
  const allOnline = (timeoutMs = 60_000) =>
    eventually("every agent online", async () => {
      const seen = await who();
      return names.every((name) => seen[name] === "online") ? true : undefined;
    }, timeoutMs);
  return {
    hs,
    root,
    fleet,
    prefix,
    operator,
    as,
    inbox,
    who,
    allOnline,
    provisioned: JSON.parse(provisioned.stdout) as {
      agents: { name: string; state: string; user_id: string }[];
      appservice: { registration: string; written: boolean };
    },
    daemon: () => spawnDaemon(["--agents", fleet, "--appservice"], operator),
  };
}

/** Pushes a transaction to the fleet's service as the homeserver would, with `token`. */
async function push(registration: Registration, txnId: string, events: unknown[], token?: string) {
  const response = await fetch(`${registration.url}/_matrix/app/v1/transactions/${txnId}`, {
    method: "PUT",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    body: JSON.stringify({ events }),
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test("a fleet as an application service", async (t) => {
  const registration = await testRegistration();
  const names = SERVICE_AGENTS.slice(0, 3);
  const f = await fleetOf(names, registration);
  const human = await Human.register(f.hs);
  let daemon = f.daemon();
  try {
    await t.step("provision makes the accounts through the service's token", () => {
      assert.deepEqual(f.provisioned.agents.map((a) => a.name), names);
      for (const agent of f.provisioned.agents) {
        assert.ok(["created", "reissued"].includes(agent.state), agent.state);
        assert.equal(agent.user_id, `@${agent.name}:${f.hs.serverName}`);
      }
      // The pool already names them: the homeserver's copy stays true.
      assert.equal(f.provisioned.appservice.written, false);
    });

    await f.allOnline();
    const server = f.hs.serverName;
    await human.start();
    await human.joinRoom(`#${f.prefix}:${server}`);
    const lobby = await human.joinRoom(`#${f.prefix}-lobby:${server}`);
    const ownRoom = await human.joinRoom(`#${f.prefix}-${names[0]}:${server}`);

    await t.step("each message reaches the inboxes it is for, once", async () => {
      const direct = await human.send(ownRoom, `for ${names[0]} only`);
      const broadcast = await human.send(lobby, "for everyone");
      await eventually("the lobby message in every inbox", async () => {
        for (const name of names) {
          if (!(await f.inbox(name)).some((m) => m.event_id === broadcast)) return undefined;
        }
        return (await f.inbox(names[0])).some((m) => m.event_id === direct) || undefined;
      });
      assert.deepEqual(
        (await f.inbox(names[0])).map((m) => [m.event_id, m.route]),
        [[direct, "direct"], [broadcast, "broadcast"]],
      );
      for (const name of names.slice(1)) {
        assert.deepEqual((await f.inbox(name)).map((m) => [m.event_id, m.route]), [
          [broadcast, "broadcast"],
        ]);
      }
    });

    await t.step(
      "status says the agents run, the homeserver's pushes their proof of life",
      async () => {
        for (const name of names) {
          const status = await cchat(["status", "--json"], f.as(name));
          assert.equal(status.code, 0, status.stderr);
          assert.equal(JSON.parse(status.stdout).daemon_state, "running", name);
        }
      },
    );

    await t.step("no agent holds a sync: the homeserver never saw one of them online", async () => {
      for (const name of names) {
        const presence = await human.client.getPresence(`@${name}:${server}`);
        assert.equal(presence.presence, "offline", name);
      }
    });

    await t.step("a transaction pushed again is applied once", async () => {
      const event = {
        type: "m.room.message",
        room_id: lobby,
        sender: human.userId,
        event_id: `$pushed-${crypto.randomUUID()}`,
        origin_server_ts: Date.now(),
        content: { msgtype: "m.text", body: "pushed twice" },
      };
      const txnId = `retried-${crypto.randomUUID()}`;
      assert.equal(await push(registration, txnId, [event], registration.hs_token), 200);
      assert.equal(await push(registration, txnId, [event], registration.hs_token), 200);
      const seen = (await f.inbox(names[1])).filter((m) => m.body === "pushed twice");
      assert.deepEqual(seen.map((m) => m.event_id), [event.event_id]);
    });

    await t.step("a push without the homeserver's token changes nothing", async () => {
      const event = {
        type: "m.room.message",
        room_id: lobby,
        sender: human.userId,
        event_id: `$forged-${crypto.randomUUID()}`,
        origin_server_ts: Date.now(),
        content: { msgtype: "m.text", body: "forged" },
      };
      assert.equal(await push(registration, "forged-1", [event], "not-the-token"), 403);
      assert.equal(await push(registration, "forged-2", [event]), 401);
      // The refused transaction ids stay free: a true push under them would be applied.
      for (const name of names) {
        assert.ok(!(await f.inbox(name)).some((m) => m.body === "forged"), name);
      }
    });

    await t.step("MCP, hooks and receipts work over the service", async () => {
      const receipts: string[] = [];
      const onReceipt = (event: MatrixEvent) => {
        for (const [eventId, types] of Object.entries(event.getContent())) {
          if (`@${names[1]}:${server}` in (types["m.read"] ?? {})) receipts.push(eventId);
        }
      };
      human.client.on(RoomEvent.Receipt, onReceipt);
      const mcp = await startMcp(f.as(names[1]), ["--name", names[1]]);
      try {
        // The MCP server stands by: the fleet holds the agent's loop. Earlier lobby messages
        // are taken first; the last one is ours.
        const eventId = await human.send(lobby, "for the MCP wait");
        let message: { event_id: string } | undefined;
        do {
          const result = await mcp.client.callTool({
            name: "wait",
            arguments: { timeout_s: 20 },
          }) as CallToolResult;
          ({ message } = result.structuredContent as { message?: { event_id: string } });
        } while (message && message.event_id !== eventId);
        assert.equal(message?.event_id, eventId);
        // Element sees it read, by the agent, as the service posted it.
        await eventually(
          "the receipt",
          () => Promise.resolve(receipts.includes(eventId) || undefined),
        );
      } finally {
        human.client.off(RoomEvent.Receipt, onReceipt);
        assert.equal((await mcp.closeStdin()).code, 0);
      }
      const eventId = await human.send(ownRoom, "for the hook");
      await eventually(
        "the message in the inbox",
        async () => (await f.inbox(names[0])).some((m) => m.event_id === eventId) || undefined,
      );
      const hook = await cchat(["hook", "UserPromptSubmit"], f.as(names[0]), HOOK_INPUT);
      assert.equal(hook.code, 0, hook.stderr);
      assert.match(hook.stdout, /for the hook/);
    });

    await t.step("a clean stop says goodbye for every agent", async () => {
      const { code, stderr } = await daemon.stop();
      assert.equal(code, 0, stderr);
      assert.match(stderr, /The application service listens at http:\/\/127\.0\.0\.1:/);
      assert.deepEqual(await f.who(), Object.fromEntries(names.map((n) => [n, "offline"])));
    });

    await t.step("what the homeserver pushed but the fleet never got is read back", async () => {
      // Another listener takes the service's pushes and drops them, as a homeserver whose
      // database fails while it makes a transaction drops its events.
      const dropped = new Set<string>();
      const url = new URL(registration.url);
      const listener = Deno.serve(
        { hostname: url.hostname, port: Number(url.port), onListen: () => {} },
        async (request) => {
          const body = request.method === "PUT" ? await request.json() : {};
          for (const event of body.events ?? []) dropped.add(event.event_id);
          return Response.json({});
        },
      );
      let eventId: string;
      try {
        eventId = await human.send(ownRoom, "pushed where nobody kept it");
        await eventually(
          "the push dropped",
          () => Promise.resolve(dropped.has(eventId) || undefined),
        );
      } finally {
        await listener.shutdown();
      }
      daemon = f.daemon();
      await eventually(
        "the message read back",
        async () => (await f.inbox(names[0])).some((m) => m.event_id === eventId) || undefined,
      );
      const { code, stderr } = await daemon.stop();
      assert.equal(code, 0, stderr);
      const copies = (await f.inbox(names[0])).filter((m) => m.event_id === eventId);
      assert.equal(copies.length, 1);
    });

    await t.step("a service token the homeserver does not know is refused", async () => {
      await writeRegistration(f.fleet, { ...registration, as_token: "not-the-token" });
      daemon = f.daemon();
      const { code, stderr } = await daemon.ended();
      assert.equal(code, 4, stderr);
      assert.match(stderr, /token/i);
    });
  } finally {
    human.stop();
    await daemon.stop();
    await Deno.remove(f.root, { recursive: true });
  }
});

Deno.test("a fleet service killed in a burst, its database restarted: each message once, where it belongs", async () => {
  const registration = await testRegistration();
  const names = SERVICE_AGENTS.slice(3, 103);
  // A hundred beats a second would be more than one Synapse lands: beats as production has them.
  const f = await fleetOf(names, registration, 60);
  const sender = clientFor(f.hs, await freshUser(f.hs, "burst"));
  let daemon = f.daemon();
  /** Each message's event id, by the agent whose room it went to. */
  const sent = new Map<string, string[]>(names.map((name) => [name, []]));
  try {
    await f.allOnline(180_000);
    const server = f.hs.serverName;
    await sender.join(`#${f.prefix}:${server}`, [server]);
    const rooms = await pMap(
      names,
      (name) => sender.join(`#${f.prefix}-${name}:${server}`, [server]),
      { concurrency: 8 },
    );
    for (let i = 0; i < 1000; i++) {
      const to = i % names.length;
      sent.get(names[to])!.push(await sendSurely(sender, rooms[to], `burst ${i}`));
      if (i === 300) await daemon.stop("SIGKILL");
      // Meanwhile the homeserver keeps what it could not push.
      if (i === 400) daemon = f.daemon();
      // Synapse drops the events it is making a transaction of when its database fails right
      // then ("Error creating appservice transaction"): the service's catch-up brings them.
      if (i === 700) await restartHomeserverDatabase(testHomeserverOptions("appservice").dataDir);
    }
    await pMap(names, async (name) => {
      const expected = sent.get(name)!;
      let have: string[] = [];
      await eventually(`${name}'s ${expected.length} messages`, async () => {
        have = (await f.inbox(name)).map((m) => m.event_id);
        return have.length >= expected.length ? true : undefined;
      }, 60_000).catch((err) => {
        throw new Error(`${err.message}: ${have.length} arrived`);
      });
      assert.deepEqual(have, expected, name);
    }, { concurrency: 4 });
  } finally {
    await daemon.stop();
    await Deno.remove(f.root, { recursive: true });
  }
});

/** Sends until the server took it, under one transaction id: never twice, whatever fails. */
async function sendSurely(client: MatrixClient, roomId: string, body: string): Promise<string> {
  const txnId = crypto.randomUUID();
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await client.sendText(roomId, { body }, txnId);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
