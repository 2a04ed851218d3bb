/**
 * The acceptance scenarios: the real `cchat` CLI and daemon on a real Synapse,
 * with matrix-js-sdk playing the human in Element.
 */
import assert from "node:assert/strict";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor } from "../../harness/matrix.ts";
import { type AgentCli, agentCli, eventually, statuses } from "../../harness/cli.ts";
import { Human } from "../support/human.ts";

interface InboxEntry {
  event_id: string;
  sender: string;
  body: string;
  route: string;
  auto_reply: boolean;
}

async function inbox(agent: AgentCli, peek = true): Promise<InboxEntry[]> {
  const result = await agent.run(["inbox", "--json", ...(peek ? ["--peek"] : [])]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function agents(names: string[], prefix: string) {
  const hs = await testHomeserver();
  return await Promise.all(
    names.map(async (name) => agentCli(hs, await freshUser(hs, name), name, { prefix })),
  );
}

Deno.test("agents in the Space, seen and reached from Element", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const [a, b, c] = await agents(["alpha", "bravo", "charlie"], prefix);
  const human = await Human.register(hs);
  const daemons = [a, b, c].map((agent) => agent.daemon());
  try {
    await human.start();
    const online = await eventually("three agents online", async () => {
      const seen = await statuses(a);
      return ["alpha", "bravo", "charlie"].every((n) => seen[n] === "online") ? seen : undefined;
    });
    assert.deepEqual(Object.keys(online).sort(), ["alpha", "bravo", "charlie"]);
    const spaceAlias = `#${prefix}:${hs.serverName}`;
    const roomOf = async (name: string) =>
      (await clientFor(hs, a.user).resolveAlias(`#${prefix}-${name}:${hs.serverName}`)).roomId;

    await t.step(
      "1. the human joins the Space and sees every agent room by name, and joins one uninvited",
      async () => {
        const spaceId = await human.joinRoom(spaceAlias);
        const rooms = await human.hierarchy(spaceId);
        const names = new Map(rooms.map((r) => [r.room_id, r.name]));
        assert.equal(names.get(spaceId), "Agents");
        for (const name of ["alpha", "bravo", "charlie"]) {
          assert.equal(names.get(await roomOf(name)), name);
        }
        assert.equal(await human.joinRoom(await roomOf("alpha")), await roomOf("alpha"));
      },
    );

    await t.step("2. the human writes to alpha's room, alpha reads it and replies", async () => {
      const alphaRoom = await roomOf("alpha");
      const asked = await human.send(alphaRoom, "alpha, status please");
      const received = await a.run(["wait", "--json", "--timeout", "20"]);
      assert.equal(received.code, 0, received.stderr);
      const message = JSON.parse(received.stdout);
      assert.deepEqual([message.event_id, message.sender, message.body, message.route], [
        asked,
        human.userId,
        "alpha, status please",
        "direct",
      ]);
      const reply = await a.run(["send", "--to", "alpha", "--reply", asked, "all green"]);
      assert.equal(reply.code, 0, reply.stderr);
      const seen = await human.waitForMessage(
        alphaRoom,
        (e) => e.getId() === reply.stdout.trim(),
        20_000,
      );
      assert.equal(seen.getContent().body, "all green");
      assert.equal(seen.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id, asked);
    });

    await t.step("3. send --to bravo reaches bravo's inbox only", async () => {
      const sent = await a.run(["send", "--json", "--to", "bravo", "for bravo only"]);
      assert.equal(sent.code, 0, sent.stderr);
      const { event_id } = JSON.parse(sent.stdout);
      const atBravo = await eventually(
        "bravo's copy",
        async () => (await inbox(b)).find((m) => m.event_id === event_id),
      );
      assert.equal(atBravo.route, "direct");
      // A broadcast sent after it marks the point by which charlie would have it too.
      const marker = await a.run(["send", "--json", "marker"]);
      const markerId = JSON.parse(marker.stdout).event_id;
      await eventually(
        "charlie's marker",
        async () => (await inbox(c)).find((m) => m.event_id === markerId),
      );
      assert.ok(
        !(await inbox(c)).some((m) => m.event_id === event_id),
        "charlie must not get bravo's message",
      );
    });

    await t.step("4. send without --to lands in the lobby, for everyone", async () => {
      const lobbyId =
        (await clientFor(hs, a.user).resolveAlias(`#${prefix}-lobby:${hs.serverName}`)).roomId;
      await human.joinRoom(lobbyId);
      const sent = await b.run(["send", "hello everyone"]);
      assert.equal(sent.code, 0, sent.stderr);
      const eventId = sent.stdout.trim();
      const seen = await human.waitForMessage(lobbyId, (e) => e.getId() === eventId, 20_000);
      assert.equal(seen.getContent().body, "hello everyone");
      const atCharlie = await eventually(
        "the broadcast at charlie",
        async () => (await inbox(c)).find((m) => m.event_id === eventId),
      );
      assert.equal(atCharlie.route, "broadcast");
    });

    await t.step(
      "notices reach the inbox marked never to auto-answer; own echoes never do",
      async () => {
        const sent = await c.run(["send", "--notice", "--to", "alpha", "automated report"]);
        const eventId = sent.stdout.trim();
        const notice = await eventually(
          "the notice",
          async () => (await inbox(a)).find((m) => m.event_id === eventId),
        );
        assert.equal(notice.auto_reply, false);
        const own = await a.run(["send", "talking to myself"]);
        await eventually(
          "bravo has alpha's broadcast",
          async () => (await inbox(b)).find((m) => m.event_id === own.stdout.trim()),
        );
        assert.ok(
          !(await inbox(a)).some((m) => m.event_id === own.stdout.trim()),
        );
      },
    );
  } finally {
    human.stop();
    for (const daemon of daemons) {
      const { code, stderr } = await daemon.stop();
      if (code !== 0) console.error(`a daemon exited ${code}:\n${stderr}`);
    }
    for (const agent of [a, b, c]) await agent[Symbol.asyncDispose]();
  }
});
