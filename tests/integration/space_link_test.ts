/** A running agent mends its link in the Space after another member removed it. */
import assert from "node:assert/strict";
import { LINK_CHECK_EVERY } from "../../src/daemon/agent_place.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { clientFor } from "../../harness/matrix.ts";
import { agentCli, eventually, statuses } from "../../harness/cli.ts";
import { testHomeserver } from "../support/homeserver.ts";

Deno.test("a Space link removed by another member is back within a few beats", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  await using agent = await agentCli(hs, await freshUser(hs, "linked"), "linked", {
    prefix,
    interval: 1,
  });
  await using observer = await agentCli(hs, await freshUser(hs, "vandal"), "vandal", { prefix });
  const daemon = agent.daemon();
  try {
    await eventually(
      "linked online",
      async () => (await statuses(observer)).linked === "online" ? true : undefined,
    );
    const vandal = clientFor(hs, observer.user);
    const spaceId = (await vandal.resolveAlias(`#${prefix}:${hs.serverName}`)).roomId;
    const roomId = (await vandal.resolveAlias(`#${prefix}-linked:${hs.serverName}`)).roomId;
    const link = async () =>
      (await vandal.roomState(spaceId)).find((e) =>
        e.type === "m.space.child" && e.state_key === roomId
      )!;

    const removed = await vandal.putState(spaceId, "m.space.child", roomId, {});
    const restored = await eventually("the link restored", async () => {
      const now = await link();
      return now.event_id !== removed && Array.isArray(now.content.via) ? now : undefined;
    }, (LINK_CHECK_EVERY + 3) * 1000);
    assert.equal(restored.sender, agent.user.userId);
    assert.deepEqual(restored.content, { via: [hs.serverName] });
    assert.equal((await statuses(observer)).linked, "online");
  } finally {
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /link in the Space had been removed; it is restored/);
  }
});
