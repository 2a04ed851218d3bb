/** The sync filter's saving, measured on a real room set with members, typing, receipts and presence. */
import assert from "node:assert/strict";
import { openDirectory } from "../../src/space/directory.ts";
import { registerAgent } from "../../src/space/registration.ts";
import { AGENT_SYNC_FILTER, MARK_SYNC_FILTER } from "../../src/space/filter.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor, spaceEnvFor } from "../../harness/matrix.ts";

const PROFILE = { host: "test-host", version: "0.1.0" };

Deno.test("the sync filter keeps what the daemon needs and drops the rest", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const [agent, ...others] = await Promise.all(
    Array.from({ length: 11 }, (_, i) => freshUser(hs, i ? "member" : "agent")),
  );
  const agentClient = clientFor(hs, agent);
  const spaces = spaceEnvFor(hs, agent, prefix, agentClient);
  const { spaceId, lobbyId } = await openDirectory(spaces, "create");
  const roomIds = await Promise.all(
    ["a", "b", "c"].map(async (n) => (await registerAgent(spaces, n, PROFILE, spaceId!)).roomId),
  );

  // Ten members chat, type, read and show presence in the lobby and the agent's rooms.
  await Promise.all(others.map(async (member, i) => {
    const client = clientFor(hs, member);
    await client.join(spaceId!);
    await client.join(lobbyId);
    for (const roomId of roomIds) await client.join(roomId, [hs.serverName]);
    const eventId = await client.sendText(lobbyId, { body: `hello from member ${i}` });
    await client.http.request(
      "PUT",
      `/_matrix/client/v3/presence/${encodeURIComponent(member.userId)}/status`,
      {
        body: { presence: "online", status_msg: `working on task ${i}` },
      },
    );
    await client.http.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(lobbyId)}/typing/${
        encodeURIComponent(member.userId)
      }`,
      { body: { typing: true, timeout: 30_000 } },
    );
    await client.http.request(
      "POST",
      `/_matrix/client/v3/rooms/${encodeURIComponent(lobbyId)}/receipt/m.read/${
        encodeURIComponent(eventId)
      }`,
      { body: {} },
    );
    await client.sendText(roomIds[i % roomIds.length], { body: `task ${i} for you` });
  }));
  await agentClient.http.request(
    "PUT",
    `/_matrix/client/v3/user/${encodeURIComponent(agent.userId)}/account_data/m.push_rules_x`,
    { body: { big: "x".repeat(2000) } },
  );

  const filterId = await agentClient.uploadFilter(agent.userId, AGENT_SYNC_FILTER);
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
  const unfiltered = await agentClient.sync({});
  const filtered = await agentClient.sync({ filter: filterId });

  await t.step("drops presence, account data, typing and receipts", () => {
    const raw = JSON.stringify(filtered);
    assert.ok(
      !raw.includes("m.presence") && !raw.includes("m.typing") && !raw.includes("m.receipt"),
    );
    assert.ok(!raw.includes("m.push_rules_x"));
    const unfilteredRaw = JSON.stringify(unfiltered);
    assert.ok(
      unfilteredRaw.includes("m.typing") || unfilteredRaw.includes("m.receipt") ||
        unfilteredRaw.includes("m.presence"),
    );
  });

  await t.step("keeps every message and no state", () => {
    const rooms = Object.values(filtered.rooms?.join ?? {});
    const timelineBodies = rooms.flatMap((room) =>
      (room.timeline?.events ?? []).filter((e) => e.type === "m.room.message").map((e) =>
        e.content.body
      )
    );
    for (let i = 0; i < others.length; i++) {
      assert.ok(timelineBodies.includes(`hello from member ${i}`), `lobby message ${i} missing`);
      assert.ok(timelineBodies.includes(`task ${i} for you`), `room message ${i} missing`);
    }
    assert.deepEqual(rooms.flatMap((room) => room.state?.events ?? []), []);
  });

  await t.step("saves most of the payload", () => {
    const saving = 1 - bytes(filtered) / bytes(unfiltered);
    console.log(
      `initial /sync: ${bytes(unfiltered)} bytes unfiltered, ${bytes(filtered)} filtered, saving ${
        (saving * 100).toFixed(1)
      }%`,
    );
    assert.ok(saving >= 0.6, `saving ${(saving * 100).toFixed(1)}% is below 60%`);
  });

  await t.step("incremental syncs still carry new messages", async () => {
    const since = filtered.next_batch;
    await clientFor(hs, others[0]).sendText(lobbyId, { body: "one more" });
    const next = await agentClient.sync({ filter: filterId, since, timeoutMs: 5_000 });
    const bodies = Object.values(next.rooms?.join ?? {}).flatMap((room) =>
      (room.timeline?.events ?? []).map((e) => e.content.body)
    );
    assert.ok(bodies.includes("one more"));
  });

  await t.step(
    "a first sync for no room gives a token the next sync carries news from",
    async () => {
      const mark = await agentClient.sync({ filter: JSON.stringify(MARK_SYNC_FILTER) });
      assert.equal(mark.rooms?.join, undefined, JSON.stringify(mark.rooms));
      await clientFor(hs, others[1]).sendText(lobbyId, { body: "after the mark" });
      const next = await agentClient.sync({ filter: filterId, since: mark.next_batch });
      const bodies = Object.values(next.rooms?.join ?? {}).flatMap((room) =>
        (room.timeline?.events ?? []).map((e) => e.content.body)
      );
      assert.deepEqual(bodies, ["after the mark"]);
    },
  );
});
