/**
 * What an agent sees through `cchat wait` and the MCP server: a human's
 * message from the send returning to a waiting `cchat wait` printing it, and
 * to the MCP `wait` tool returning it, against a raw /sync in the same run;
 * a `send` tool call against a PUT by fetch in this process and by curl; and
 * the size of `tools/list`, which an agent pays for in every turn; and a
 * message pushed into a channel session, against the same raw /sync.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { realSleep } from "../../src/deps.ts";
import { CHANNEL_EVENT, TOOLS_LIST_BUDGET_BYTES } from "../../src/mcp/server.ts";
import type { JSONRPCNotification } from "@modelcontextprotocol/sdk/types.js";
import { textContent } from "../../src/matrix/client.ts";
import { agentCli, buildBundle, CCHAT_BUNDLE, eventually } from "../../harness/cli.ts";
import { clientFor } from "../../harness/matrix.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { curlPut, syncFloor } from "./floor.ts";
import type { Row, Section } from "./report.ts";
import { alternate, ratio, spread, summarize } from "./stats.ts";

const MCP_WAIT_TARGET = 1.5;
const CLI_WAIT_TARGET = 2.5;
const MCP_SEND_TARGET = 1.2;
const PUSH_TARGET = 1.5;
/** Long enough for a fresh `cchat wait` to be watching before the message is sent. */
const READY_MS = 800;
const ARRIVAL_TIMEOUT_MS = 10_000;

export const run: Section = async (context) => {
  await buildBundle();
  const prefix = uniquePrefix();
  const user = await freshUser(context, "benchagent");
  await using agent = await agentCli(context, user, "a", { prefix, interval: 60, syncTimeout: 30 });
  context.note("agents: booting A's daemon");
  const daemon = agent.daemon();
  const env = { ...Deno.env.toObject(), NO_COLOR: "1", ...agent.env };
  const mcp = new Client({ name: "cchat-bench", version: "1" });
  const channel = new Client({ name: "cchat-bench-channel", version: "1" });
  try {
    const place = await eventually("the daemon's first sync", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout).daemon;
      return status?.lastSyncAt && status.roomId && status.spaceId
        ? { roomId: status.roomId as string, spaceId: status.spaceId as string }
        : undefined;
    });
    await mcp.connect(
      new StdioClientTransport({
        command: Deno.execPath(),
        args: [...CCHAT_BUNDLE, "mcp"],
        env,
        stderr: "ignore",
      }),
    );
    const toolsListBytes = new TextEncoder().encode(JSON.stringify(await mcp.listTools())).length;

    const [human, watcher] = [
      await freshUser(context, "benchh"),
      await freshUser(context, "benchw"),
    ];
    for (const member of [human, watcher]) {
      const client = clientFor(context, member);
      await client.join(place.spaceId, [context.serverName]);
      await client.join(place.roomId, [context.serverName]);
    }
    const sender = clientFor(context, human);
    await using floor = await syncFloor(context.baseUrl, watcher.accessToken);
    const floorAt = (eventId: string) =>
      eventually("the raw /sync", () => {
        if (floor.failure()) return Promise.reject(floor.failure());
        return Promise.resolve(floor.seen.get(eventId));
      }, ARRIVAL_TIMEOUT_MS);

    /** Sends once `ready` says the reader waits; returns both sides' delays from the send's return. */
    const receive = async (reader: (ready: Promise<void>) => Promise<number>, i: number) => {
      let go!: () => void;
      const ready = new Promise<void>((resolve) => go = resolve);
      const got = reader(ready);
      await realSleep(READY_MS);
      const eventId = await sender.sendText(place.roomId, { body: `bench agents ${i}` });
      const sent = performance.now();
      go();
      return { reader: await got - sent, floor: await floorAt(eventId) - sent };
    };
    const cliWait = async (ready: Promise<void>) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [...CCHAT_BUNDLE, "wait", "--json", "--timeout", "30"],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      await ready;
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      const at = performance.now();
      reader.releaseLock();
      await child.stdout.cancel();
      const { code } = await child.status;
      if (code !== 0 || !value) throw new Error(`cchat wait exited ${code}`);
      return at;
    };
    /** `context.samples` messages to `reader` alone, after one that warms its path up. */
    const samplesOf = async (reader: (ready: Promise<void>) => Promise<number>) => {
      const samples = { reader: [] as number[], floor: [] as number[] };
      for (let i = 0; i < 1 + context.samples; i++) {
        const sample = await receive(reader, i);
        if (i === 0) continue;
        samples.reader.push(sample.reader);
        samples.floor.push(sample.floor);
      }
      return samples;
    };
    const mcpWait = async (ready: Promise<void>) => {
      const answer = mcp.callTool({ name: "wait", arguments: { timeout_s: 30 } });
      await ready;
      const result = await answer;
      if (result.isError) throw new Error(`the wait tool failed: ${JSON.stringify(result)}`);
      return performance.now();
    };

    context.note(`agents: ${context.samples} messages to each reader`);
    const cli = { reader: [] as number[], floor: [] as number[] };
    const tool = { reader: [] as number[], floor: [] as number[] };
    for (let i = 0; i < 1 + context.samples; i++) {
      for (const [into, reader] of [[cli, cliWait], [tool, mcpWait]] as const) {
        const sample = await receive(reader, i);
        // The first round warms both paths up.
        if (i === 0) continue;
        into.reader.push(sample.reader);
        into.floor.push(sample.floor);
      }
    }

    context.note(`agents: ${context.samples} alternating rounds of three sends`);
    const body = "bench: a message of ordinary length, about one line of text";
    const content = JSON.stringify(textContent({ body }));
    const tmp = await Deno.makeTempDir({ prefix: "cchat-bench-agents-" });
    const header = `${tmp}/authorization`;
    // curl reads the token from a private file: argv is visible to every user in ps.
    await Deno.writeTextFile(header, `Authorization: Bearer ${user.accessToken}\n`, {
      mode: 0o600,
    });
    const putUrl = () =>
      `${context.baseUrl}/_matrix/client/v3/rooms/${
        encodeURIComponent(place.roomId)
      }/send/m.room.message/${crypto.randomUUID()}`;
    const sends = await alternate({
      mcp: async () => {
        const result = await mcp.callTool({ name: "send", arguments: { text: body, to: "a" } });
        if (result.isError) throw new Error(`the send tool failed: ${JSON.stringify(result)}`);
      },
      fetch: async () => {
        const response = await fetch(putUrl(), {
          method: "PUT",
          headers: { authorization: `Bearer ${user.accessToken}` },
          body: content,
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`PUT answered ${response.status}`);
      },
      curl: () => curlPut(header, content, putUrl()),
    }, context.samples);
    await Deno.remove(tmp, { recursive: true });

    // The daemon stops; the MCP server takes the sync loop over, and its news now wakes a
    // waiting tool in its own process.
    context.note(
      `agents: the daemon stops; ${context.samples} messages to the MCP server's own loop`,
    );
    const daemonPid = daemon.pid;
    await daemon.stop();
    await eventually("the MCP server hosting the loop", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      return status.state === "running" && status.lease?.pid !== daemonPid ? true : undefined;
    }, 30_000);
    const hosting = await samplesOf(mcpWait);

    // The server goes; one serving as a Claude Code channel takes the loop over, and each
    // message from the human is pushed to its client as it arrives.
    context.note(`agents: a channel server; ${context.samples} messages pushed`);
    const hostPid = (mcp.transport as StdioClientTransport | undefined)?.pid;
    await mcp.close();
    let nextPush: (() => void) | undefined;
    channel.fallbackNotificationHandler = (notification: JSONRPCNotification) => {
      if (notification.method === CHANNEL_EVENT) nextPush?.();
      return Promise.resolve();
    };
    await channel.connect(
      new StdioClientTransport({
        command: Deno.execPath(),
        args: [...CCHAT_BUNDLE, "mcp", "--channel"],
        env: { ...env, CCHAT_CHANNEL_SENDERS: human.userId },
        stderr: "ignore",
      }),
    );
    await eventually("the channel server hosting the loop", async () => {
      const status = JSON.parse((await agent.run(["status", "--json"])).stdout);
      const pid = status.lease?.pid;
      return status.state === "running" && pid !== undefined && pid !== hostPid &&
          pid !== daemonPid
        ? true
        : undefined;
    }, 30_000);
    // Listening from before the send: a push needs no call to be waiting.
    const pushedAt = () =>
      new Promise<number>((resolve) => {
        nextPush = () => {
          nextPush = undefined;
          resolve(performance.now());
        };
      });
    const pushing = await samplesOf(pushedAt);

    const [cliS, cliF, toolS, toolF, hostS, hostF, pushS, pushF] = [
      cli.reader,
      cli.floor,
      tool.reader,
      tool.floor,
      hosting.reader,
      hosting.floor,
      pushing.reader,
      pushing.floor,
    ].map(summarize);
    const [mcpSend, fetchSend, curlSend] = [sends.mcp, sends.fetch, sends.curl].map(summarize);
    const row = (metric: string, value: string, extra: Partial<Row> = {}): Row => ({
      section: "agents",
      metric,
      value,
      ...extra,
    });
    return [
      row("cchat wait: send returned → printed", spread(cliS), { data: { ...cliS } }),
      row("MCP wait tool: send returned → returned", spread(toolS), { data: { ...toolS } }),
      row("raw /sync, the floor (beside cchat wait)", spread(cliF), { data: { ...cliF } }),
      row("raw /sync, the floor (beside the MCP wait)", spread(toolF), { data: { ...toolF } }),
      row("cchat wait/floor at p50", ratio(cliS.median, cliF.median), {
        target: `≤ ${CLI_WAIT_TARGET}×`,
        met: cliS.median / cliF.median <= CLI_WAIT_TARGET,
      }),
      row("MCP wait/floor at p50, a daemon hosting the loop", ratio(toolS.median, toolF.median)),
      row("MCP wait tool, hosting the loop itself: send returned → returned", spread(hostS), {
        data: { ...hostS },
      }),
      row("raw /sync, the floor (beside the hosting MCP server)", spread(hostF), {
        data: { ...hostF },
      }),
      row("MCP wait/floor at p50, hosting the loop itself", ratio(hostS.median, hostF.median), {
        target: `≤ ${MCP_WAIT_TARGET}×`,
        met: hostS.median / hostF.median <= MCP_WAIT_TARGET,
      }),
      row("channel push: send returned → notification read by the client", spread(pushS), {
        data: { ...pushS },
      }),
      row("raw /sync, the floor (beside the channel server)", spread(pushF), {
        data: { ...pushF },
      }),
      row("channel push/floor at p50", ratio(pushS.median, pushF.median), {
        target: `≤ ${PUSH_TARGET}×`,
        met: pushS.median / pushF.median <= PUSH_TARGET,
      }),
      row("MCP send tool → event id", spread(mcpSend), { data: { ...mcpSend } }),
      row("fetch PUT in this process, the floor", spread(fetchSend), { data: { ...fetchSend } }),
      row("curl PUT (process)", spread(curlSend), { data: { ...curlSend } }),
      row("MCP send/fetch at p50", ratio(mcpSend.median, fetchSend.median), {
        target: `≤ ${MCP_SEND_TARGET}×`,
        met: mcpSend.median / fetchSend.median <= MCP_SEND_TARGET,
      }),
      row("MCP send/curl at p50", ratio(mcpSend.median, curlSend.median)),
      row("tools/list", `${toolsListBytes} bytes`, {
        target: `≤ ${TOOLS_LIST_BUDGET_BYTES} bytes`,
        met: toolsListBytes <= TOOLS_LIST_BUDGET_BYTES,
      }),
    ];
  } finally {
    await mcp.close();
    await channel.close();
    await daemon.stop();
  }
};
