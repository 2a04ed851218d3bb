/**
 * What Element shows of an agent's message, and what an agent reads of a
 * human's, against a real Synapse: Markdown as `formatted_body`, `@name` as a
 * mention and a pill, and a rich reply without its quoted fallback.
 */
import assert from "node:assert/strict";
import { EventType, MsgType } from "matrix-js-sdk";
import { agentCli, eventually } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { pillHref } from "../../src/matrix/format.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { Human } from "../support/human.ts";

Deno.test("messages read well in Element and reach agents as text", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using writer = await agentCli(hs, await freshUser(hs, "writer"), "writer", { prefix });
  await using reader = await agentCli(hs, await freshUser(hs, "reader"), "reader", { prefix });
  const human = await Human.register(hs);
  for (const agent of [writer, reader]) {
    const boot = await agent.run(["heartbeat"]);
    assert.equal(boot.code, 0, boot.stderr);
  }
  const daemon = writer.daemon();
  try {
    await human.start();
    await human.joinRoom(`#${prefix}:${hs.serverName}`);
    const lobbyId = await human.joinRoom(`#${prefix}-lobby:${hs.serverName}`);
    const writerRoom = await human.joinRoom(`#${prefix}-writer:${hs.serverName}`);
    const humanName = human.userId.slice(1, human.userId.indexOf(":"));
    /** What the human's client shows of what the writer sends to the lobby. */
    const sentToLobby = async (text: string) => {
      const sent = await writer.run(["send", text]);
      assert.equal(sent.code, 0, sent.stderr);
      return await human.waitForMessage(lobbyId, (e) => e.getId() === sent.stdout.trim(), 20_000);
    };

    await t.step("Markdown arrives formatted, and the body stays as written", async () => {
      const text = "**Status**: green\n\n- build `ok`\n- tests ok";
      const content = (await sentToLobby(text)).getContent();
      assert.equal(content.body, text);
      assert.equal(content.format, "org.matrix.custom.html");
      assert.equal(
        content.formatted_body,
        "<p><strong>Status</strong>: green</p>\n<ul>\n<li>build <code>ok</code></li>\n<li>tests ok</li>\n</ul>",
      );
    });

    await t.step("plain text goes without HTML", async () => {
      const seen = await sentToLobby("just words");
      assert.equal(seen.getContent().formatted_body, undefined);
      assert.deepEqual(seen.getContent()["m.mentions"], {});
    });

    await t.step("@name of an agent and of a room member mention them, as pills", async () => {
      const seen = await sentToLobby(`@reader and @${humanName}: please look`);
      const content = seen.getContent();
      assert.deepEqual(
        content["m.mentions"]?.user_ids?.sort(),
        [human.userId, reader.user.userId].sort(),
      );
      assert.ok(
        content.formatted_body.includes(`<a href="${pillHref(reader.user.userId)}">reader</a>`),
      );
      assert.ok(
        content.formatted_body.includes(`<a href="${pillHref(human.userId)}">${humanName}</a>`),
      );
      // matrix-js-sdk, as Element, counts it as a mention of the human.
      const actions = human.client.getPushActionsForEvent(seen);
      assert.equal(actions?.tweaks?.highlight, true);
    });

    await t.step("a human's rich reply reaches the agent without the quote", async () => {
      await eventually("the daemon's first sync", async () => {
        const status = await writer.run(["status", "--json"]);
        return JSON.parse(status.stdout).daemon?.lastSyncAt ? true : undefined;
      });
      const asked = await writer.run(["send", "--to", "writer", "Shall I deploy?"]);
      assert.equal(asked.code, 0, asked.stderr);
      const question = asked.stdout.trim();
      const { event_id: answer } = await human.client.sendEvent(writerRoom, EventType.RoomMessage, {
        msgtype: MsgType.Text,
        body: `> <${writer.user.userId}> Shall I deploy?\n\nYes, go ahead.`,
        format: "org.matrix.custom.html",
        formatted_body:
          `<mx-reply><blockquote><a href="https://matrix.to/#/${writerRoom}/${question}">In reply to</a> ` +
          `<a href="https://matrix.to/#/${writer.user.userId}">writer</a><br>Shall I deploy?</blockquote></mx-reply>Yes, go ahead.`,
        "m.relates_to": { "m.in_reply_to": { event_id: question } },
      });
      const received = await writer.run(["wait", "--json", "--timeout", "20"]);
      assert.equal(received.code, 0, received.stderr);
      const message = JSON.parse(received.stdout);
      assert.equal(message.event_id, answer);
      assert.equal(message.body, "Yes, go ahead.");
      assert.equal(message.reply_to, question);
    });

    await t.step("an agent's message reaches another with its sender's agent name", async () => {
      const sent = await reader.run(["send", "--to", "writer", "ready when you are"]);
      assert.equal(sent.code, 0, sent.stderr);
      const received = await writer.run(["wait", "--json", "--timeout", "20"]);
      const message = JSON.parse(received.stdout);
      assert.equal(message.event_id, sent.stdout.trim());
      assert.equal(message.sender, reader.user.userId);
      assert.equal(message.sender_name, "reader");
    });
  } finally {
    human.stop();
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});
