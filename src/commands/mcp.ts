import { buildCommand } from "@stricli/core";
import { hostSyncLoop } from "../ops/agent.ts";
import { action, type CliContext } from "./common.ts";

export const mcpCommand = buildCommand<Record<never, never>, [], CliContext>({
  func: action(async ({ deps, out }) => {
    // Loaded here: the MCP SDK and its Node streams cost the other commands nothing.
    const [{ mcpServer }, { StdioServerTransport }] = await Promise.all([
      import("../mcp/server.ts"),
      import("@modelcontextprotocol/sdk/server/stdio.js"),
    ]);
    const ctx = { deps, log: out };
    const server = mcpServer(ctx);
    const closed = new Promise<void>((resolve) => server.server.onclose = resolve);
    const unsubscribe = deps.onShutdown(() => void server.close());
    const stop = new AbortController();
    // The tools answer at once; the sync loop boots beside them, or runs in a daemon already.
    const syncing = hostSyncLoop(ctx, stop.signal).catch((err: Error) => {
      out.warn(`This server fills no inbox: ${err.message}`);
    });
    try {
      await server.connect(new StdioServerTransport());
      await closed;
    } finally {
      unsubscribe();
      stop.abort();
      await syncing;
    }
    return {};
  }),
  parameters: { flags: {} },
  docs: {
    brief: "Serve the commands as MCP tools over stdio, for agents' MCP clients",
    fullDescription:
      "Serves the operations as tools of an MCP server on stdin and stdout until the client disconnects or SIGINT/SIGTERM. It also runs the agent's sync loop and heartbeat, unless a daemon already runs them for this agent, and says goodbye with an offline beat when it ends. Only protocol messages go to stdout; diagnostics go to stderr.",
  },
});
