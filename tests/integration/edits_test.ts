/**
 * Edits and redactions follow the message into the inbox, against a real
 * Synapse, as a human in Element makes them (matrix-js-sdk), with a second,
 * hostile account that tries to edit and redact what it did not send.
 */
import assert from "node:assert/strict";
import { agentCli, eventually } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

interface Shown {
  event_id: string;
  body: string;
  edit_of: string | null;
  edited: boolean;
}

Deno.test("edits and redactions follow the message they change", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "edits"), "edits", { prefix });
  const human = await Human.register(hs);
  const hostile = await Human.register(hs);
  const boot = await agent.run(["heartbeat"]);
  assert.equal(boot.code, 0, boot.stderr);
  const daemon = agent.daemon();
  const peek = async (): Promise<Shown[]> =>
    JSON.parse((await agent.run(["inbox", "--peek", "--json"])).stdout);
  const edit = (roomId: string, of: string, body: string, by = human) =>
    by.client.sendMessage(roomId, {
      msgtype: "m.text",
      body: `* ${body}`,
      "m.new_content": { msgtype: "m.text", body },
      "m.relates_to": { rel_type: "m.replace", event_id: of },
      // deno-lint-ignore no-explicit-any
    } as any);
  try {
    let roomId = "";
    for (const who of [human, hostile]) {
      await who.joinRoom(`#${prefix}:${hs.serverName}`);
      roomId = await who.joinRoom(`#${prefix}-edits:${hs.serverName}`);
    }
    await eventually("the daemon's first sync", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      return status.daemon?.lastSyncAt ? true : undefined;
    });

    await t.step("an edit of an unread message replaces its text", async () => {
      const original = await human.send(roomId, "deploy at 5");
      await edit(roomId, original, "deploy at 6");
      const [shown] = await eventually("the edited text", async () => {
        const inbox = await peek();
        return inbox[0]?.body === "deploy at 6" ? inbox : undefined;
      });
      assert.equal(shown.event_id, original);
      assert.equal(shown.edited, true);
      assert.equal((await peek()).length, 1, 'no "* …" message beside it');
    });

    await t.step("another member's edit is no edit: it changes and adds nothing", async () => {
      const [original] = await peek();
      await (await edit(roomId, original.event_id, "deploy never", hostile));
      const marker = await human.send(roomId, "marker");
      const inbox = await eventually("the marker", async () => {
        const all = await peek();
        return all.some((m) => m.event_id === marker) ? all : undefined;
      });
      assert.equal(inbox[0].body, "deploy at 6");
      assert.ok(!inbox.some((m) => m.body.includes("deploy never")), JSON.stringify(inbox));
    });

    await t.step("an edit of a read message arrives as an edit that names it", async () => {
      const read = await agent.run(["inbox", "--json"]);
      const original = JSON.parse(read.stdout)[0].event_id;
      await edit(roomId, original, "deploy at 7");
      const [shown] = await eventually("the edit", async () => {
        const inbox = await peek();
        return inbox.find((m) => m.edit_of === original) ? inbox : undefined;
      });
      assert.equal(shown.body, "deploy at 7");
      const plain = await agent.run(["inbox", "--peek"]);
      assert.match(plain.stdout, new RegExp(`\\(direct, edit of \\${original}\\): deploy at 7`));
      await agent.run(["inbox"]);
    });

    await t.step("a withdrawn unread message leaves the inbox, its text with it", async () => {
      const secret = await human.send(roomId, "the password is hunter2");
      await eventually("the message", async () => (await peek()).length === 1 || undefined);
      // The hostile member cannot withdraw it: the server refuses.
      await assert.rejects(hostile.client.redactEvent(roomId, secret));
      await human.client.redactEvent(roomId, secret);
      await eventually("its withdrawal", async () => (await peek()).length === 0 || undefined);
      const replied = await agent.run(["reply", secret, "what password?"]);
      assert.equal(replied.code, 0, "a withdrawn message can still be answered");
    });
  } finally {
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});
