/**
 * Two agents hold a conversation, each only through `cchat mcp`, against a
 * real Synapse, while their processes die as real ones do: one agent's MCP
 * client is killed and restarted (its server sees stdin close), the other's
 * daemon is killed with -9 and its MCP server takes the sync loop over.
 * Every message must reach the right agent exactly once, in order.
 */
import assert from "node:assert/strict";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type AgentCli, agentCli, eventually, type RunningDaemon } from "../../harness/cli.ts";
import { type McpChild, startMcp } from "../../harness/mcp.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { testHomeserver } from "../support/homeserver.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const TURNS = 200;
const MESSAGE_DEADLINE_MS = 60_000;
/** After sending these turns, agent A's MCP client dies while A waits for the answer. */
const CLIENT_DEATHS = new Set([21, 91, 151]);
/** After sending these turns, agent B's daemon is killed with -9 while B waits. */
const DAEMON_DEATHS = new Set([40, 120]);
/** After sending this turn, B's server is restarted beside a new daemon, so that one can die again. */
const DAEMON_BACK = 70;

interface Received {
  id: number;
  body: string;
  sender: string;
  at: number;
}

/** One agent as its MCP client sees it: a server that can be replaced. */
class Side {
  mcp!: McpChild;
  readonly received: Received[] = [];

  constructor(readonly agent: AgentCli) {}

  async start(): Promise<void> {
    this.mcp = await startMcp(this.agent.env);
  }

  async call(name: string, args: Record<string, unknown>) {
    const result = await this.mcp.client.callTool({ name, arguments: args }) as CallToolResult;
    if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
    return result.structuredContent as Record<string, unknown>;
  }

  /** The next message; a wait cut by a dying client is simply asked again. */
  async next(): Promise<Received> {
    // A takeover after a daemon's death takes one lease period; far longer is a lost message.
    const deadline = performance.now() + MESSAGE_DEADLINE_MS;
    for (;;) {
      if (performance.now() > deadline) {
        throw new Error(`${this.agent.name} got no message within ${MESSAGE_DEADLINE_MS} ms`);
      }
      const mcp = this.mcp;
      try {
        const { message } = await this.call("wait", { timeout_s: 20 }) as {
          message: { id: number; body: string; sender: string } | null;
        };
        if (!message) continue;
        const received = { ...message, at: performance.now() };
        this.received.push(received);
        return received;
      } catch (err) {
        // Only the death of the client this test itself caused is expected.
        if (this.mcp === mcp) throw err;
      }
    }
  }

  /** The client dies: its server sees stdin close. A new client starts a new server. */
  async clientDies(): Promise<void> {
    const old = this.mcp;
    await this.start();
    const { code } = await old.closeStdin();
    assert.equal(code, 0, await old.stderr);
  }

  async lease(): Promise<number | undefined> {
    const status = JSON.parse((await this.agent.run(["status", "--json"])).stdout);
    return status.lease?.pid;
  }

  async syncing(pid: number): Promise<void> {
    await eventually(`pid ${pid} syncing for ${this.agent.name}`, async () => {
      const status = JSON.parse((await this.agent.run(["status", "--json"])).stdout);
      return status.lease?.pid === pid && status.daemon?.pid === pid && status.daemon?.lastSyncAt
        ? true
        : undefined;
    }, 30_000);
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

Deno.test("two agents answer each other through cchat mcp for 200 turns while their processes die", async () => {
  const hs = await testHomeserver();
  const prefix = uniquePrefix();
  const options = { prefix, interval: 5 };
  await using agentA = await agentCli(hs, await freshUser(hs, "conva"), "asker", options);
  await using agentB = await agentCli(hs, await freshUser(hs, "convb"), "answerer", options);
  const a = new Side(agentA);
  const b = new Side(agentB);
  let daemon: RunningDaemon | undefined;
  const sentAt = new Map<string, number>();
  try {
    // B runs a daemon, and its MCP server stands by beside it; A has its MCP server alone.
    const booted = await agentB.run(["heartbeat"]);
    assert.equal(booted.code, 0, booted.stderr);
    daemon = agentB.daemon();
    await b.syncing(daemon.pid);
    await b.start();
    await a.start();
    await a.syncing(a.mcp.pid);

    const say = async (side: Side, tool: string, args: Record<string, unknown>, turn: number) => {
      const text = `turn ${turn} from ${side.agent.name}`;
      sentAt.set(text, performance.now());
      const sent = await side.call(tool, { ...args, text });
      return sent;
    };
    // Both agents run at once, each waiting while the other writes: A opens in B's room, then
    // each answers what it heard with send and reply.
    const asker = async () => {
      await say(a, "send", { to: "answerer" }, 1);
      for (let turn = 3; turn <= TURNS + 1; turn += 2) {
        const dying = CLIENT_DEATHS.has(turn - 2);
        const heard = dying
          ? (await Promise.all([a.next(), delay(50).then(() => a.clientDies())]))[0]
          : await a.next();
        if (turn > TURNS) return;
        const sent = await say(a, "send", { reply: heard.id }, turn);
        assert.equal(sent.to, agentB.user.userId, "the reply names whom it reaches");
      }
    };
    const answerer = async () => {
      for (let turn = 2; turn <= TURNS; turn += 2) {
        const heard = await b.next();
        const sent = await say(b, "send", { reply: heard.id }, turn);
        assert.equal(sent.to, agentA.user.userId, "the reply names whom it reaches");
        if (DAEMON_DEATHS.has(turn) && daemon) {
          await daemon.stop("SIGKILL");
          daemon = undefined;
        }
        if (turn === DAEMON_BACK) {
          // B's server gives the loop back as it ends; a new daemon takes it, a new server stands by.
          const { code } = await b.mcp.closeStdin();
          assert.equal(code, 0);
          daemon = agentB.daemon();
          await b.syncing(daemon.pid);
          await b.start();
        }
      }
    };
    await Promise.all([asker(), answerer()]);

    const expect = (from: string, parity: number) =>
      Array.from({ length: TURNS }, (_, i) => i + 1).filter((n) => n % 2 === parity)
        .map((n) => `turn ${n} from ${from}`);
    assert.deepEqual(
      b.received.map((m) => m.body),
      expect("asker", 1),
      "B got A's, once, in order",
    );
    assert.deepEqual(
      a.received.map((m) => m.body),
      expect("answerer", 0),
      "A got B's, once, in order",
    );
    assert.ok(a.received.every((m) => m.sender === agentB.user.userId));
    assert.ok(b.received.every((m) => m.sender === agentA.user.userId));

    const hops = [...a.received, ...b.received].map((m) => m.at - sentAt.get(m.body)!)
      .sort((x, y) => x - y);
    console.log(
      `${hops.length} hops, send called → the other side's wait returned: median ${
        Math.round(quantile(hops, 0.5))
      } ms, p90 ${Math.round(quantile(hops, 0.9))} ms, max ${Math.round(hops.at(-1)!)} ms`,
    );
    for (const side of [a, b]) {
      const { code } = await side.mcp.closeStdin();
      assert.equal(code, 0, await side.mcp.stderr);
    }
  } finally {
    await daemon?.stop("SIGKILL");
    // Whatever failed above is the test's failure: these only clean up.
    for (const side of [a, b]) await side.mcp?.kill("SIGKILL");
  }
});
