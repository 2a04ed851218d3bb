import { buildCommand } from "@stricli/core";
import { loadConfig } from "../config.ts";
import { hostSyncLoop } from "../ops/agent.ts";
import { holdDataFile, requireName } from "../ops/local.ts";
import { PermissionRelay } from "../ops/permission.ts";
import { userIdsOf } from "../ops/push.ts";
import { action, type CliContext, nameFlag } from "./common.ts";

interface McpFlags {
  name?: string;
  channel?: boolean;
}

export const mcpCommand = buildCommand<McpFlags, [], CliContext>({
  func: action(async ({ deps, out }, flags: McpFlags) => {
    // An MCP client hides stderr: a server without a name would serve an inbox nobody fills.
    const config = await loadConfig(deps, { name: flags.name });
    const name = requireName(config);
    const approvers = userIdsOf("approvers", config.approvers);
    // Loaded here: the MCP SDK costs the other commands nothing.
    const [{ mcpServer }, { StdioTransport }] = await Promise.all([
      import("../mcp/server.ts"),
      import("../mcp/stdio.ts"),
    ]);
    // One data file for the tools and the sync loop: the loop's news wakes a waiting tool here.
    await using ctx = await holdDataFile({ deps, log: out }, { name: flags.name });
    const transport = new StdioTransport(deps.stdin, deps.stdout, out);
    const unsubscribe = deps.onShutdown(() => void transport.close());
    const stop = new AbortController();
    // The tools answer at once; the sync loop boots beside them, or stands by for a daemon's.
    const syncing = hostSyncLoop(ctx, { name: flags.name }, stop.signal).catch((err: Error) => {
      out.warn(`This server fills no inbox: ${err.message}`);
    });
    try {
      const permissions = flags.channel && approvers.size > 0
        ? new PermissionRelay(ctx, name, approvers)
        : undefined;
      await mcpServer(ctx, { channel: flags.channel, permissions }).serve(transport);
    } finally {
      unsubscribe();
      stop.abort();
      await syncing;
      await transport.finished();
    }
    return {};
  }),
  parameters: {
    flags: {
      name: nameFlag,
      channel: {
        kind: "boolean",
        optional: true,
        brief:
          "Push messages from channel_senders into a Claude Code session started with this channel",
      },
    },
  },
  docs: {
    brief: "Serve the commands as MCP tools over stdio, for agents' MCP clients",
    fullDescription:
      "Serves the operations as tools of an MCP server on stdin and stdout until the client closes stdin (or dies), or SIGINT/SIGTERM. It also runs the agent's sync loop and heartbeat, or, while a daemon runs them, takes them over when that daemon stops; and says goodbye with an offline beat when it ends. Refuses to start without an agent name. Only protocol messages go to stdout; diagnostics go to stderr.",
  },
});
