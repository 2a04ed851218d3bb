/**
 * The MCP face: the operations as tools, for agents that take their tools
 * from an MCP client. It renders nothing: a tool's result is the operation's
 * data (the document `--json` prints), and an error is a tool error carrying
 * the message and the hint. Nothing but the protocol reaches stdout.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { CchatError } from "../errors.ts";
import { inbox, wait } from "../ops/inbox.ts";
import { reply, send } from "../ops/send.ts";
import type { OpContext } from "../ops/session.ts";
import { who } from "../ops/who.ts";
import { VERSION } from "../version.ts";

/** An agent's turn should not hang on one call for longer than this. */
export const MAX_WAIT_S = 600;

// Descriptions stay short: a client puts every tool's schema into every turn of the agent.
const sendInput = z.object({
  text: z.string(),
  to: z.string().optional().describe("agent name; the lobby when absent"),
  notice: z.boolean().optional().describe("never answered automatically"),
});
const replyInput = z.object({
  id: z.union([z.number().int(), z.string()]).describe("a message's id, or its event_id"),
  text: z.string(),
  notice: z.boolean().optional(),
});
const whoInput = z.object({ all: z.boolean().optional().describe("include agents silent a day") });
const inboxInput = z.object({
  limit: z.number().int().optional(),
  peek: z.boolean().optional().describe("leave them unread"),
});
const waitInput = z.object({ timeout_s: z.number().min(0).max(MAX_WAIT_S) });

/** Runs an operation as a tool call: its data as the result, a failure as a tool error. */
async function tool(run: () => Promise<Record<string, unknown>>): Promise<CallToolResult> {
  try {
    const data = await run();
    return { content: [{ type: "text", text: JSON.stringify(data) }], structuredContent: data };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const hint = err instanceof CchatError && err.hint ? `\nhint: ${err.hint}` : "";
    return { content: [{ type: "text", text: message + hint }], isError: true };
  }
}

export function mcpServer(ctx: OpContext): McpServer {
  const server = new McpServer({ name: "cchat", version: VERSION });
  server.registerTool(
    "send",
    { description: "Post to the lobby, or to an agent's room.", inputSchema: sendInput.shape },
    ({ text, to, notice }: z.infer<typeof sendInput>) =>
      tool(async () => ({ ...await send(ctx, { body: text, to, notice }) })),
  );
  server.registerTool(
    "reply",
    { description: "Answer a message in its room, as a reply.", inputSchema: replyInput.shape },
    ({ id, text, notice }: z.infer<typeof replyInput>) =>
      tool(async () => ({ ...await reply(ctx, { id, text, notice }) })),
  );
  server.registerTool(
    "who",
    { description: "The agents and who is online.", inputSchema: whoInput.shape },
    ({ all }: z.infer<typeof whoInput>) => tool(async () => ({ ...await who(ctx, { all }) })),
  );
  server.registerTool(
    "inbox",
    {
      description: "Unread messages, oldest first; marks them read.",
      inputSchema: inboxInput.shape,
    },
    ({ limit, peek }: z.infer<typeof inboxInput>) =>
      tool(async () => ({ messages: await inbox(ctx, { limit, peek }) })),
  );
  server.registerTool(
    "wait",
    {
      description: "Wait for the next message; null when none came in time.",
      inputSchema: waitInput.shape,
    },
    ({ timeout_s }: z.infer<typeof waitInput>) =>
      tool(async () => ({ message: await wait(ctx, { timeoutMs: timeout_s * 1000 }) })),
  );
  return server;
}
