/**
 * A hostile account of the same homeserver against agents, on Synapse: the
 * aliases it makes first lead nowhere, and it reads no agent room unseen.
 */
import assert from "node:assert/strict";
import { MatrixError } from "../../src/errors.ts";
import type { AgentView } from "../../src/ops/views.ts";
import type { StatusResult } from "../../src/ops/status.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "../../src/space/names.ts";
import { agentCli, eventually } from "../../harness/cli.ts";
import { clientFor } from "../../harness/matrix.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";

const refused = (err: unknown) => err instanceof MatrixError && err.is(403, 404);

Deno.test("an alias squatted before the agent first boots leads nobody to the squatter", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  // The agent's account is named after it, as provision names them.
  const [agentUser, aliceUser, mallory] = await Promise.all(
    ["sq", "alice", "mallory"].map((p) => freshUser(hs, p)),
  );
  const name = agentUser.username;
  await using agent = await agentCli(hs, agentUser, name, { prefix, interval: 1 });
  await using alice = await agentCli(hs, aliceUser, "alice", { prefix });
  const hostile = clientFor(hs, mallory);

  // Alice's first command makes the Space and the lobby; then mallory takes the agent's alias,
  // on a room that hands every member all power, and claims the name in the Space.
  assert.equal((await alice.run(["heartbeat"])).code, 0);
  const squat = await hostile.createRoom({
    room_alias_name: `${prefix}-${name}`,
    preset: "public_chat",
    power_level_content_override: { users_default: 100, state_default: 0, events_default: 0 },
  });
  const spaceId = await hostile.join(`#${prefix}:${hs.serverName}`, [hs.serverName]);
  await hostile.putState(spaceId, EVENT_AGENT, mallory.userId, { name, room_id: squat });

  const daemon = agent.daemon();
  try {
    const report = await eventually("the agent running", async () => {
      const result = await agent.run(["status", "--json"]);
      const status = JSON.parse(result.stdout) as StatusResult;
      return status.state === "running" ? status : undefined;
    });

    await t.step("the agent refuses the squatted room and says so in status", () => {
      const ownRoom = report.daemon!.roomId!;
      assert.notEqual(ownRoom, squat);
      assert.deepEqual(report.daemon!.warnings, [
        `The room "${squat}" behind "#${prefix}-${name}:${hs.serverName}" is not this agent's ` +
        `own: it was made by "${mallory.userId}".`,
      ]);
    });

    await t.step("it leaves the squatted room, where nothing of it lands", async () => {
      const members = await hostile.roomState(squat);
      const membership = members.find((e) =>
        e.type === "m.room.member" && e.state_key === agentUser.userId
      );
      assert.equal(membership?.content.membership, "leave");
    });

    await t.step("who lists the name under the agent's account, with its own room", async () => {
      const listed = await eventually("the agent online", async () => {
        const result = await alice.run(["who", "--json"]);
        const agents = JSON.parse(result.stdout).agents as AgentView[];
        const found = agents.filter((a) => a.name === name);
        return found.length === 1 && found[0].status === "online" ? found : undefined;
      });
      assert.equal(listed[0].user_id, agentUser.userId);
      assert.equal(listed[0].room_id, report.daemon!.roomId);
    });

    await t.step("a secret sent to the name reaches the agent, not the squatter", async () => {
      const sent = await alice.run(["send", "--json", "--to", name, "the password is hunter2"]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(JSON.parse(sent.stdout).room_id, report.daemon!.roomId);
      const got = await agent.run(["wait", "--json", "--timeout", "20"]);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(JSON.parse(got.stdout).body, "the password is hunter2");
      const inSquat = await hostile.messages(squat, { limit: 50 });
      assert.ok(!JSON.stringify(inSquat.chunk).includes("hunter2"));
    });

    await t.step("the squatter reads nothing of the agent's room without joining", async () => {
      const room = report.daemon!.roomId!;
      await assert.rejects(hostile.messages(room, { limit: 10 }), refused);
      await assert.rejects(hostile.roomState(room), refused);
      await assert.rejects(hostile.getStateEvent(room, "m.room.create"), refused);
    });

    await t.step("its beat room shows the beat to anyone, and holds no message", async () => {
      const entry = await hostile.getStateEvent(spaceId, EVENT_AGENT, agentUser.userId);
      const beatRoom = entry.content.beat_room_id as string;
      assert.notEqual(beatRoom, report.daemon!.roomId);
      const beat = await hostile.getStateEvent(beatRoom, EVENT_HEARTBEAT, agentUser.userId);
      assert.equal(beat.content.name, name);
      const history = await hostile.messages(beatRoom, { limit: 100 });
      assert.ok(!history.chunk.some((e) => e.type === "m.room.message"));
      // And nobody else can post there.
      await assert.rejects(hostile.sendText(beatRoom, { body: "hi" }), refused);
    });
  } finally {
    await daemon.stop();
  }
});

Deno.test("a lobby squatted with loose power levels stops the agent with the fix", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const [agentUser, mallory] = await Promise.all(["ag", "mallory"].map((p) => freshUser(hs, p)));
  await clientFor(hs, mallory).createRoom({
    room_alias_name: `${prefix}-lobby`,
    preset: "public_chat",
    power_level_content_override: { state_default: 0 },
  });
  await using agent = await agentCli(hs, agentUser, "ag", { prefix });
  const result = await agent.daemon().ended();
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(
      `The lobby "#${prefix}-lobby:[^"]+" is not a room cchat made: its members may change`,
    ),
  );
  assert.match(result.stderr, /delete it, or set another "alias_prefix"/);
});

Deno.test("an agent that is no longer in its own room says so in status", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const agentUser = await freshUser(hs, "gone");
  await using agent = await agentCli(hs, agentUser, "gone", { prefix });
  const daemon = agent.daemon();
  try {
    const roomId = await eventually("the agent running", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout) as StatusResult;
      return status.state === "running" ? status.daemon!.roomId! : undefined;
    });
    // Nobody else holds power there to remove it; its own account may, from another client.
    await clientFor(hs, agentUser).leave(roomId);
    const warning = `The agent is no longer in its own room "${roomId}"; restart it to rejoin.`;
    const warnings = await eventually("the removal in status", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout) as StatusResult;
      return status.daemon?.warnings?.length ? status.daemon.warnings : undefined;
    });
    assert.deepEqual(warnings, [warning]);
    const plain = await agent.run(["status"]);
    assert.ok(plain.stdout.split("\n").includes(`warning     ${warning}`), plain.stdout);
  } finally {
    await daemon.stop();
  }
});
