/**
 * `cchat history` against a real Synapse: an agent that joins late reads the
 * lobby and a thread in an agent's room, oldest first, with agent names.
 */
import assert from "node:assert/strict";
import { EventType, MsgType, RelationType } from "matrix-js-sdk";
import { agentCli } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

interface Read {
  room_id: string;
  thread_root: string | null;
  messages: {
    event_id: string;
    sender: string;
    sender_name: string | null;
    body: string;
    edited: boolean;
  }[];
}

Deno.test("an agent that comes late reads the recent messages of a room and a thread", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using early = await agentCli(hs, await freshUser(hs, "early"), "early", { prefix });
  await using late = await agentCli(hs, await freshUser(hs, "late"), "late", { prefix });
  const human = await Human.register(hs);
  for (const agent of [early, late]) {
    const boot = await agent.run(["heartbeat"]);
    assert.equal(boot.code, 0, boot.stderr);
  }
  await human.joinRoom(`#${prefix}:${hs.serverName}`);
  const lobbyId = await human.joinRoom(`#${prefix}-lobby:${hs.serverName}`);
  const earlyRoom = await human.joinRoom(`#${prefix}-early:${hs.serverName}`);
  const said: string[] = [];
  for (const text of ["the plan: ship friday", "**tests** are green"]) {
    const sent = await early.run(["send", text]);
    assert.equal(sent.code, 0, sent.stderr);
    said.push(sent.stdout.trim());
  }
  said.push(await human.send(lobbyId, "sounds good"));
  const read = async (...args: string[]): Promise<Read> => {
    const run = await late.run(["history", "--json", ...args]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout);
  };

  await t.step("the lobby, oldest first, with the agent's name beside its user id", async () => {
    const lobby = await read();
    assert.equal(lobby.room_id, lobbyId);
    assert.equal(lobby.thread_root, null);
    const last = lobby.messages.slice(-3);
    assert.deepEqual(last.map((m) => m.event_id), said);
    assert.deepEqual(last.map((m) => m.sender_name), ["early", "early", null]);
    assert.equal(last[1].body, "**tests** are green");
    assert.equal(last[2].sender, human.userId);
  });

  await t.step("--limit gives the latest that many", async () => {
    const two = await read("--limit", "2");
    assert.deepEqual(two.messages.map((m) => m.event_id), said.slice(1));
  });

  await t.step(
    "a thread in an agent's room: its root, then its messages, an edit applied",
    async () => {
      const root = await human.send(earlyRoom, "which release?");
      const inThread = (body: string, extra: Record<string, unknown> = {}) =>
        human.client.sendEvent(earlyRoom, EventType.RoomMessage, {
          msgtype: MsgType.Text,
          body,
          "m.relates_to": { rel_type: RelationType.Thread, event_id: root },
          ...extra,
        });
      const { event_id: first } = await inThread("1.4, I think");
      await human.client.sendEvent(earlyRoom, EventType.RoomMessage, {
        msgtype: MsgType.Text,
        body: "* 1.5, I think",
        "m.new_content": { msgtype: MsgType.Text, body: "1.5, I think" },
        "m.relates_to": { rel_type: RelationType.Replace, event_id: first },
      });
      const thread = await read("early", "--thread", root);
      assert.equal(thread.room_id, earlyRoom);
      assert.equal(thread.thread_root, root);
      assert.deepEqual(thread.messages.map((m) => m.event_id), [root, first]);
      assert.equal(thread.messages[1].body, "1.5, I think");
      assert.equal(thread.messages[1].edited, true);
    },
  );

  await t.step("the text shows who said what; a bad limit is a usage error", async () => {
    const text = await late.run(["history", "--limit", "3"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\] early @\S+: \*\*tests\*\* are green\n/);
    const bad = await late.run(["history", "--limit", "500"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /The limit "500" is not a whole number from 1 to 100\./);
  });
});
