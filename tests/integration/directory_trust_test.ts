/** What a hostile member of the Space can and cannot do to another agent's listing, on Synapse. */
import assert from "node:assert/strict";
import { MatrixError } from "../../src/errors.ts";
import type { AgentView } from "../../src/ops/views.ts";
import { heartbeatContent } from "../../src/space/agents.ts";
import { openDirectory } from "../../src/space/directory.ts";
import { EVENT_AGENT, EVENT_HEARTBEAT } from "../../src/space/names.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor, spaceEnvFor } from "../../harness/matrix.ts";
import { agentCli, eventually } from "../../harness/cli.ts";

const beat = (name: string) =>
  heartbeatContent({
    name,
    status: "online",
    seq: Date.now(),
    intervalMs: 60_000,
    host: "evil-host",
    version: "0.1.0",
  });

Deno.test("a hostile Space member can neither hide nor impersonate an agent", async (t) => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const [bobUser, hostileUser, watcherUser] = await Promise.all(
    ["bob", "hostile", "watch"].map((p) => freshUser(hs, p)),
  );
  // Bob's account is named after him, as provision names them: the name is his outright.
  const name = bobUser.username;
  await using bob = await agentCli(hs, bobUser, name, { prefix, interval: 1 });
  await using watcher = await agentCli(hs, watcherUser, "watch", { prefix });
  const who = async (): Promise<AgentView[]> => {
    const result = await watcher.run(["who", "--json", "--all"]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout).agents;
  };
  /** Bob, listed once, under his own account, online. */
  const bobAlone = async () => {
    const listed = (await who()).filter((a) => a.name === name);
    assert.deepEqual(listed.map((a) => [a.user_id, a.status]), [[bobUser.userId, "online"]]);
    return listed[0];
  };
  const daemon = bob.daemon();
  try {
    const first = await eventually("bob online", async () => {
      const seen = (await who()).find((a) => a.name === name && a.status === "online");
      return seen;
    });
    const bobRoom = first.room_id!;
    const hostile = clientFor(hs, hostileUser);
    const { spaceId, lobbyId } = (await openDirectory(
      spaceEnvFor(hs, hostileUser, prefix, hostile),
      "join",
    ))!;

    await t.step("who reads bob's beat without joining his rooms", async () => {
      const watcherClient = clientFor(hs, watcherUser);
      const entry = await watcherClient.getStateEvent(spaceId!, EVENT_AGENT, bobUser.userId);
      for (const room of [bobRoom, entry.content.beat_room_id as string]) {
        const joined = await watcherClient.getStateEvent(room, "m.room.member", watcherUser.userId)
          .then(() => true, (err) => err instanceof MatrixError && err.is(403, 404) ? false : err);
        assert.equal(joined, false, room);
      }
    });

    await t.step("a running daemon's beats do not reach the lobby", async () => {
      // A few more beats of a second each, then the lobby holds none of bob's.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const lobbyState = await hostile.roomState(lobbyId);
      assert.ok(!lobbyState.some((e) => e.type === EVENT_HEARTBEAT && e.sender === bobUser.userId));
    });

    await t.step("a member cannot write an entry under bob's user id", async () => {
      // Its own entry it may write: what refuses the next one is the rule on user-id state keys.
      await hostile.putState(spaceId!, EVENT_AGENT, hostileUser.userId, {});
      await assert.rejects(
        hostile.putState(spaceId!, EVENT_AGENT, bobUser.userId, {
          name,
          room_id: bobRoom,
        }),
        (err: unknown) => err instanceof MatrixError && err.status === 403,
      );
    });

    await t.step(
      "rewriting bob's link, beating as bob and claiming his name change nothing",
      async () => {
        await hostile.putState(spaceId!, "m.space.child", bobRoom, { via: [hs.serverName] });
        await hostile.putState(lobbyId, EVENT_HEARTBEAT, hostileUser.userId, beat(name));
        // An entry of its own named "bob", for a room it made look like an agent's, and one for bob's room.
        const decoy = await hostile.createRoom({
          preset: "public_chat",
          initial_state: [{
            type: "m.room.history_visibility",
            state_key: "",
            content: { history_visibility: "world_readable" },
          }],
        });
        await hostile.putState(decoy, EVENT_AGENT, "", {
          name,
          user_id: hostileUser.userId,
        });
        await hostile.putState(decoy, EVENT_HEARTBEAT, hostileUser.userId, beat(name));
        await hostile.putState(spaceId!, EVENT_AGENT, hostileUser.userId, {
          name,
          room_id: decoy,
        });
        await bobAlone();
        await hostile.putState(spaceId!, EVENT_AGENT, hostileUser.userId, {
          name,
          room_id: bobRoom,
        });
        await bobAlone();
        assert.ok(!(await who()).some((a) => a.user_id === hostileUser.userId));
      },
    );

    await t.step(
      "a Space child that is no agent's entry is not listed, even with --all",
      async () => {
        const stray = await hostile.createRoom({
          room_alias_name: `${prefix}-stray`,
          preset: "public_chat",
        });
        await hostile.putState(spaceId!, "m.space.child", stray, { via: [hs.serverName] });
        const listed = await who();
        assert.ok(!listed.some((a) => a.name === "stray" || a.room_id === stray));
      },
    );

    await t.step("removing bob's link from the Space does not unlist him", async () => {
      await hostile.putState(spaceId!, "m.space.child", bobRoom, {});
      assert.equal((await bobAlone()).room_id, bobRoom);
    });
  } finally {
    await daemon.stop();
  }
});
