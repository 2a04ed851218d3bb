/** What `cchat status` tells a watchdog about real daemons: restarts, crashes, a second daemon. */
import assert from "node:assert/strict";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";
import { clientFor } from "../../harness/matrix.ts";
import {
  type AgentCli,
  agentCli,
  cchat,
  eventually,
  type RunningDaemon,
  spawnDaemon,
} from "../../harness/cli.ts";
import { realSleep } from "../../src/deps.ts";
import { LEASE_TTL_MS } from "../../src/store/lease.ts";

interface Status {
  code: number;
  state: string;
  json: {
    daemon: { pid: number; lastSyncAt: number | null } | null;
    lease: { pid: number } | null;
  };
}

async function statusOf(agent: AgentCli): Promise<Status> {
  const result = await agent.run(["status", "--json"]);
  assert.notEqual(result.stdout, "", result.stderr);
  const json = JSON.parse(result.stdout);
  return { code: result.code, state: json.state, json };
}

/** Up and synced once, by the exit code and the record alone. */
const synced = (agent: AgentCli) =>
  eventually("status to say the daemon synced", async () => {
    const status = await statusOf(agent);
    return status.code === 0 && status.json.daemon?.lastSyncAt ? status : undefined;
  });

/** Up (starting or running) under `pid`, by the exit code and the record. */
const up = (agent: AgentCli, pid: number, timeoutMs?: number) =>
  eventually(`pid ${pid} to be up`, async () => {
    const status = await statusOf(agent);
    return status.code === 0 && status.json.daemon?.pid === pid ? status : undefined;
  }, timeoutMs);

/** Whether a child has exited: the harness reaps its children, so a gone pid leaves no entry. */
const exited = async (pid: number) => {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z") ? true : undefined;
  } catch {
    return true;
  }
};

Deno.test("status stays truthful over restarts, crashes and a second daemon", async (t) => {
  const hs = await testHomeserver();
  // A 30 s long-poll, as in production: a restarted daemon with a stored token sits in it.
  await using agent = await agentCli(hs, await freshUser(hs, "watched"), "watched", {
    prefix: uniquePrefix(),
    interval: 60,
    syncTimeout: 30,
  });

  await t.step("a restarted daemon counts as alive while its first long-poll waits", async () => {
    const first = agent.daemon();
    await synced(agent);
    assert.equal((await first.stop("SIGTERM")).code, 0);
    const second = agent.daemon();
    try {
      // Well inside the first 30 s long-poll of the restarted daemon.
      const alive = await eventually("status to say the daemon is up", async () => {
        const status = await statusOf(agent);
        return status.code === 0 ? status : undefined;
      }, 15_000);
      // Alive is the lease's holder; until it writes its own record, the old one is not shown.
      assert.equal(alive.json.lease?.pid, second.pid);
      assert.ok([undefined, second.pid].includes(alive.json.daemon?.pid), JSON.stringify(alive));
      assert.match(alive.state, /^(starting|running)$/);
      for (let i = 0; i < 3; i++) {
        await realSleep(1000);
        const status = await statusOf(agent);
        assert.equal(status.code, 0, JSON.stringify(status.json));
      }
    } finally {
      await second.stop("SIGTERM");
    }
  });

  await t.step(
    "after kill -9 status says dead at once, and a restart takes over",
    async () => {
      const doomed = agent.daemon();
      try {
        await up(agent, doomed.pid);
      } finally {
        await doomed.stop("SIGKILL");
      }
      // Deno hides /proc without --allow-all: the life lock the system let go of tells the crash.
      const after = await statusOf(agent);
      assert.equal(after.code, 8);
      assert.equal(after.state, "dead");
      const next = agent.daemon();
      try {
        await up(agent, next.pid, LEASE_TTL_MS + 20_000);
      } finally {
        const stopped = await next.stop("SIGTERM");
        assert.equal(stopped.code, 0, stopped.stderr);
      }
    },
  );

  await t.step(
    "a second daemon for the same agent refuses to start and names the holder",
    async () => {
      const holder = agent.daemon();
      try {
        await up(agent, holder.pid);
        const intruder = agent.daemon();
        await eventually("the second daemon to exit", () => exited(intruder.pid));
        const refused = await intruder.stop();
        assert.equal(refused.code, 9, refused.stderr);
        assert.match(refused.stderr, new RegExp(`pid ${holder.pid}`));
        assert.match(refused.stderr, new RegExp(Deno.hostname()));
        const status = await statusOf(agent);
        assert.equal(status.code, 0);
        assert.equal(status.json.daemon?.pid, holder.pid);
      } finally {
        assert.equal((await holder.stop("SIGTERM")).code, 0);
      }
      assert.equal((await statusOf(agent)).code, 8);
    },
  );
});

Deno.test("a revoked token: status exits 4 (auth), though the Space's alias still resolves", async () => {
  const hs = await testHomeserver();
  const user = await freshUser(hs, "revoked");
  await using agent = await agentCli(hs, user, "revoked", { prefix: uniquePrefix() });
  assert.equal((await agent.run(["heartbeat"])).code, 0, "the agent and its Space exist");
  await clientFor(hs, user).logout();
  const status = await statusOf(agent);
  assert.equal(status.code, 4);
  assert.equal(status.state, "auth");
});

Deno.test("a daemon retrying while its homeserver is away: status exits 5, not 8", async () => {
  const hs = await testHomeserver();
  // A port nobody listens on stands in for a homeserver that is down, without stopping the shared one.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const away = { ...hs, baseUrl: `http://127.0.0.1:${listener.addr.port}` };
  listener.close();
  await using agent = await agentCli(away, await freshUser(hs, "away"), "away", {
    prefix: uniquePrefix(),
  });
  const daemon = agent.daemon();
  try {
    const status = await eventually("status to see the daemon retrying", async () => {
      const now = await statusOf(agent);
      return now.json.daemon?.pid === daemon.pid && now.code !== 0 ? now : undefined;
    });
    assert.equal(status.code, 5, JSON.stringify(status.json));
    assert.equal(status.state, "unreachable");
  } finally {
    assert.equal((await daemon.stop("SIGTERM")).code, 0);
  }
});

Deno.test("one sync loop per account, whatever the data directory: the newest runs", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const user = await freshUser(hs, "twodirs");
  await using first = await agentCli(hs, user, "twodirs", { prefix });
  // The same account and login, its state in a data directory of its own.
  const second = { ...first.env, XDG_STATE_HOME: `${first.env.XDG_STATE_HOME}-elsewhere` };
  const older = first.daemon();
  let newer: RunningDaemon | undefined;
  try {
    await synced(first);
    newer = spawnDaemon([], second);
    const ended = await older.ended();
    assert.equal(ended.code, 9, ended.stderr);
    assert.match(ended.stderr, /Another sync loop of this account started: pid \d+ on /);
    const status = await statusOf(first);
    assert.equal(status.state, "stopped");
    const text = await first.run(["status"]);
    assert.match(text.stdout, /not running: it stopped on an error: Another sync loop/);
    // The newer one runs on.
    const running = JSON.parse((await cchat(["status", "--json"], second)).stdout);
    assert.equal(running.state, "running");
  } finally {
    await older.stop("SIGKILL");
    if (newer) {
      const stopped = await newer.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
    await Deno.remove(second.XDG_STATE_HOME, { recursive: true }).catch(() => {});
  }
});
