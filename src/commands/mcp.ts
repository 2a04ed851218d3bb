import { buildCommand } from "@stricli/core";
import { action, type CliContext } from "./common.ts";

export const mcpCommand = buildCommand<Record<never, never>, [], CliContext>({
  func: action(async ({ deps, out }) => {
    // Loaded here: the MCP SDK and its Node streams cost the other commands nothing.
    const [{ mcpServer }, { StdioServerTransport }] = await Promise.all([
      import("../mcp/server.ts"),
      import("@modelcontextprotocol/sdk/server/stdio.js"),
    ]);
    const server = mcpServer({ deps, log: out });
    const closed = new Promise<void>((resolve) => server.server.onclose = resolve);
    const unsubscribe = deps.onShutdown(() => void server.close());
    try {
      await server.connect(new StdioServerTransport());
      await closed;
    } finally {
      unsubscribe();
    }
    return {};
  }),
  parameters: { flags: {} },
  docs: {
    brief: "Serve the commands as MCP tools over stdio, for agents' MCP clients",
    fullDescription:
      "Serves send, who, inbox and wait as tools of an MCP server on stdin and stdout until the client disconnects or SIGINT/SIGTERM. Only protocol messages go to stdout; diagnostics go to stderr.",
  },
});
