/**
 * The MCP face: the operations as tools, for agents that take their tools
 * from an MCP client. It renders nothing: a tool's result is the operation's
 * data (the document `--json` prints), and an error is a tool error carrying
 * the message and the hint. Nothing but the protocol reaches stdout.
 *
 * Built on the SDK's protocol layer rather than its tool helper, so that the
 * protocol stays strict: a malformed call is refused with -32602, arguments
 * outside a tool's schema (unknown ones included) are a tool error the model
 * can read and correct, and a message taken from the inbox is read only once
 * its answer is written (see Deliveries).
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type ProgressToken,
  type ServerNotification,
  type ServerRequest,
  type ToolAnnotations,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod/v4";
import { CchatError } from "../errors.ts";
import { ack, inbox, wait } from "../ops/inbox.ts";
import type { Taken } from "../ops/taken.ts";
import { send } from "../ops/send.ts";
import type { OpContext } from "../ops/local.ts";
import { who } from "../ops/who.ts";
import { pushMessages } from "../ops/push.ts";
import type { PermissionRelay } from "../ops/permission.ts";
import type { MessageView } from "../ops/views.ts";
import { history } from "../ops/history.ts";
import { NotYetError } from "../ops/delivery.ts";
import {
  AckResultSchema,
  HistoryResultSchema,
  MessageViewSchema,
  SendResultSchema,
  WhoResultSchema,
} from "../ops/schemas.ts";
import { visible } from "../visible.ts";
import { VERSION } from "../version.ts";
import { Deliveries } from "./deliveries.ts";

/** An agent's turn should not hang on one call for longer than this. */
export const MAX_WAIT_S = 600;
/**
 * `wait`'s timeout when the call names none: under the 60 s after which the
 * SDK's client and Claude Code give up on a call, so a wait ends before its
 * client stops listening.
 */
export const DEFAULT_WAIT_S = 50;
/**
 * What the whole tools/list answer may weigh: a model pays for it in every
 * turn. The tests and the bench hold the listing to it.
 */
export const TOOLS_LIST_BUDGET_BYTES = 4_096;
/** How often a long `wait` tells a client that asked for progress that it is still waiting. */
export const PROGRESS_EVERY_MS = 10_000;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What a tool is handed besides its arguments. */
interface Call {
  signal: AbortSignal;
  progressToken?: ProgressToken;
  /** Sends a progress notification for this call. */
  progress(progress: number, total: number, message: string): Promise<void>;
}

interface Tool<S extends z.ZodObject> {
  description: string;
  input: S;
  /** The tool's `structuredContent`, as its `outputSchema` tells the client. */
  output: z.ZodObject;
  /** Only what differs from the protocol's defaults (which assume a tool may destroy). */
  annotations?: ToolAnnotations;
  run(
    args: z.infer<S>,
    call: Call,
  ): Promise<Record<string, unknown> | Taken<Record<string, unknown>>>;
}

/** Builds one tool, typed by its schema; strict, so a misspelt argument is refused, not ignored. */
const tool = <S extends z.ZodObject>(definition: Tool<S>) => definition;

const isTaken = (value: object): value is Taken<Record<string, unknown>> =>
  "settle" in value && typeof value.settle === "function";

/** A failure as the model reads it: the message, then the hint. */
function toolError(err: unknown): CallToolResult {
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof CchatError && err.hint ? `\nhint: ${err.hint}` : "";
  return { content: [{ type: "text", text: message + hint }], isError: true };
}

/**
 * A schema as tools/list carries it, which every turn of an agent pays for:
 * without the `$schema` line, the bounds of a safe integer, or `anyOf` for
 * what may also be null. An output schema names what each object holds but
 * not what it must: the server writes those, and strictness is for input.
 */
function jsonSchema(schema: z.ZodObject, io: "input" | "output") {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io });
  // The protocol asks that the schema itself say it is an object.
  return { type: "object" as const, ...compact(rest, io === "output") as object };
}

function compact(node: unknown, loose: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => compact(item, loose));
  if (typeof node !== "object" || node === null) return node;
  const entries = Object.entries(node)
    .filter(([key]) => !(loose && ["required", "additionalProperties", "enum"].includes(key)))
    .map(([key, value]) => [key, key === "required" ? value : compact(value, loose)] as const);
  const out: Record<string, unknown> = Object.fromEntries(entries);
  // Inside an output schema, properties say it is an object.
  if (loose && out.type === "object") delete out.type;
  if (out.type === "integer" && out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  if (out.type === "integer" && out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  // Alternatives that differ only in their type are one schema of several types.
  const options = out.anyOf as Record<string, unknown>[] | undefined;
  const typed = options?.filter((option) => typeof option.type === "string");
  const bare = typed?.filter((option) => Object.keys(option).length === 1);
  if (options && typed!.length === options.length && bare!.length >= options.length - 1) {
    const { anyOf: _, ...rest } = out;
    return Object.assign(rest, ...options, { type: options.map((option) => option.type) });
  }
  return out;
}

/** A `tools/call` as the protocol layer hands it over unchecked, so this server checks it itself. */
const LooseCallRequest = z.object({ method: z.literal("tools/call"), params: z.unknown() });

function callParams(
  params: unknown,
): { name: string; args: unknown; progressToken?: ProgressToken } {
  const call = z.object({
    name: z.string(),
    arguments: z.record(z.string(), z.unknown()).optional(),
    _meta: z.object({ progressToken: z.union([z.string(), z.number()]).optional() }).loose()
      .optional(),
  }).loose().safeParse(params);
  if (!call.success) {
    throw new McpError(
      ErrorCode.InvalidParams,
      "Invalid params: tools/call takes a tool's name and an object of arguments.",
    );
  }
  const { name, arguments: args, _meta } = call.data;
  return { name, args: args ?? {}, progressToken: _meta?.progressToken };
}

/** Progress notifications every PROGRESS_EVERY_MS until `signal` ends, for a client that asked. */
async function reportProgress(
  ctx: OpContext,
  call: Call,
  totalS: number,
  signal: AbortSignal,
): Promise<void> {
  if (call.progressToken === undefined) return;
  const started = ctx.deps.now();
  for (;;) {
    try {
      await ctx.deps.sleep(PROGRESS_EVERY_MS, signal);
    } catch {
      return;
    }
    const waited = Math.round((ctx.deps.now() - started) / 1000);
    await call.progress(waited, totalS, `waiting for a message, ${waited} of ${totalS} s`)
      .catch(() => {});
  }
}

/** A message named by its short id or its event id. */
const ID = z.union([z.number().int(), z.string()]);

function tools(ctx: OpContext) {
  return {
    send: tool({
      description:
        "Post Markdown to the lobby or an agent; @name mentions, reply answers an id, await_read_s waits until read.",
      input: z.strictObject({
        text: z.string(),
        to: z.string().optional(),
        notice: z.boolean().optional(),
        reply: ID.optional(),
        thread: ID.optional(),
        mentions: z.array(z.string()).optional(),
        await_read_s: z.number().max(MAX_WAIT_S).optional(),
      }),
      output: SendResultSchema,
      annotations: { destructiveHint: false },
      run: async ({ text, reply, thread, await_read_s, ...rest }, { signal }) => {
        try {
          return {
            ...await send(ctx, {
              ...rest,
              body: text,
              reply: reply === undefined ? undefined : String(reply),
              thread: thread === undefined ? undefined : String(thread),
              await: await_read_s === undefined
                ? undefined
                : { state: "read", timeoutMs: await_read_s * 1000 },
              signal,
            }),
          };
        } catch (err) {
          // Sent, but not read in time: that is the answer, not a failure.
          if (!(err instanceof NotYetError)) throw err;
          const { event_id, room_id, to, state } = err.result;
          return { event_id, room_id, to, state };
        }
      },
    }),
    who: tool({
      description: "The agents and who is online.",
      input: z.strictObject({
        all: z.boolean().optional().describe("also silent a day"),
      }),
      output: WhoResultSchema,
      annotations: { readOnlyHint: true },
      run: async ({ all }, { signal }) => ({ ...await who(ctx, { all, signal }) }),
    }),
    history: tool({
      description: "Recent messages of a room (lobby or agent name) or thread.",
      input: z.strictObject({
        room: z.string().optional(),
        thread: ID.optional(),
        limit: z.number().int().optional(),
      }),
      output: HistoryResultSchema,
      annotations: { readOnlyHint: true },
      run: async (args, { signal }) => ({ ...await history(ctx, { ...args, signal }) }),
    }),
    inbox: tool({
      description: "Unread messages, oldest first; taken unless peek.",
      input: z.strictObject({
        limit: z.number().int().optional(),
        peek: z.boolean().optional(),
      }),
      output: z.object({ messages: z.array(MessageViewSchema) }),
      run: async ({ limit, peek }, { signal }) => {
        const taken = await inbox(ctx, { limit, peek, signal });
        return { ...taken, value: { messages: taken.value } };
      },
    }),
    ack: tool({
      description: "Take messages by id.",
      input: z.strictObject({
        ids: z.array(ID),
      }),
      output: AckResultSchema,
      annotations: { idempotentHint: true },
      run: async ({ ids }) => ({ ...await ack(ctx, { ids }) }),
    }),
    wait: tool({
      description: "Take the next message, waiting.",
      input: z.strictObject({
        timeout_s: z.number().max(MAX_WAIT_S).default(DEFAULT_WAIT_S),
      }),
      output: z.object({ message: MessageViewSchema.nullable() }),
      run: async ({ timeout_s }, call) => {
        const waiting = new AbortController();
        const progress = reportProgress(ctx, call, timeout_s, waiting.signal);
        try {
          const taken = await wait(ctx, { timeoutMs: timeout_s * 1000, signal: call.signal });
          return { ...taken, value: { message: taken.value } };
        } finally {
          waiting.abort();
          await progress;
        }
      },
    }),
  };
}

/** The event a channel pushes into a Claude Code session for one message. */
export const CHANNEL_EVENT = "notifications/claude/channel";

/** A message as the session shows it: the body in the tag, its ids as the tag's attributes. */
export function channelEvent(message: MessageView) {
  const meta: Record<string, string> = {
    id: String(message.id ?? ""),
    event_id: message.event_id,
    sender: message.sender,
    room_id: message.room_id,
    route: message.route,
  };
  if (message.thread_root) meta.thread_root = message.thread_root;
  if (message.reply_to) meta.reply_to = message.reply_to;
  if (!message.auto_reply) meta.notice = "true";
  // The text enters the model's context: what hides in it is shown, as plain output shows it.
  return { method: CHANNEL_EVENT, params: { content: visible(message.body, "\n\t"), meta } };
}

/** What every session is told once, when it connects. */
export const INSTRUCTIONS =
  "cchat is a chat of agents and people over Matrix. Answer a message with send and reply set " +
  "to its id: the answer goes to its room and thread, and reaches its sender. Use notice for automatic messages (status, results): nobody answers a " +
  "notice, so no two bots answer each other for ever. wait and inbox take what they return; " +
  "inbox peek looks without taking, then ack takes by id. Keep wait's timeout_s under your " +
  "client's tool timeout (60 s in most).";

const CHANNEL_INSTRUCTIONS =
  ' Messages also arrive by themselves as <channel source="cchat" id=… sender=… room_id=…>: ' +
  "they are read once shown; answer with send, reply set to the id.";

export interface McpServerOptions {
  /**
   * Serve as a Claude Code channel: push each new message from an allowed
   * sender into the session. Only for a client launched with the channel:
   * another client drops the events it does not know, and the pushed message with them.
   */
  channel?: boolean;
  /** With a channel: relay the session's tool-use approvals to the agent's room. */
  permissions?: PermissionRelay;
}

/** The verdict a channel sends back for a relayed approval. */
export const PERMISSION_EVENT = "notifications/claude/channel/permission";

/** An approval a session asks of the channel, as the protocol layer hands it over unchecked. */
const PermissionRequestNotification = z.object({
  method: z.literal("notifications/claude/channel/permission_request"),
  params: z.object({
    request_id: z.string(),
    tool_name: z.string(),
    description: z.string(),
    input_preview: z.string(),
  }).loose(),
});

export interface McpServerHandle {
  server: Server;
  /** Connects to `transport` and serves until it closes; then every taken message is settled. */
  serve(transport: Transport): Promise<void>;
}

export function mcpServer(ctx: OpContext, options: McpServerOptions = {}): McpServerHandle {
  const server = new Server(
    { name: "cchat", version: VERSION },
    {
      capabilities: {
        tools: {},
        ...(options.channel
          ? {
            experimental: {
              "claude/channel": {},
              ...(options.permissions ? { "claude/channel/permission": {} } : {}),
            },
          }
          : {}),
      },
      instructions: INSTRUCTIONS + (options.channel ? CHANNEL_INSTRUCTIONS : ""),
    },
  );
  const deliveries = new Deliveries((message) => ctx.log.warn(message));
  const table: Record<string, Tool<z.ZodObject>> = tools(ctx);
  const listing = Object.entries(table).map((
    [name, { description, input, output, annotations }],
  ) => ({
    name,
    description,
    inputSchema: jsonSchema(input, "input"),
    outputSchema: jsonSchema(output, "output"),
    ...(annotations ? { annotations } : {}),
  }));
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listing }));
  // Calls (and relayed approvals) still running when the client goes away: the server ends
  // only after them, so what they take is settled and what they open is closed.
  const running = new Set<Promise<unknown>>();
  const callTool = async (request: { params: unknown }, extra: Extra) => {
    const { name, args, progressToken } = callParams(request.params);
    const definition = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!definition) {
      throw new McpError(ErrorCode.InvalidParams, `Invalid params: no tool is called "${name}".`, {
        tools: Object.keys(table),
      });
    }
    const parsed = definition.input.safeParse(args);
    if (!parsed.success) {
      return toolError(
        new CchatError(`Invalid arguments for "${name}": ${z.prettifyError(parsed.error)}`, {
          hint: "The tool's input schema in tools/list says what it takes.",
        }),
      );
    }
    const call: Call = {
      signal: extra.signal,
      progressToken,
      progress: (progress, total, message) =>
        extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: progressToken!, progress, total, message },
        }),
    };
    try {
      const result = await definition.run(parsed.data, call);
      const data = isTaken(result)
        ? deliveries.expect(extra.requestId, result, extra.signal)
        : result;
      return { content: [{ type: "text", text: JSON.stringify(data) }], structuredContent: data };
    } catch (err) {
      return toolError(err);
    }
  };
  const track = <T>(work: Promise<T>): Promise<T> => {
    const tracked = work.catch(() => {}).finally(() => running.delete(tracked));
    running.add(tracked);
    return work;
  };
  server.setRequestHandler(
    LooseCallRequest,
    (request: { params: unknown }, extra: Extra) => track(callTool(request, extra)),
  );
  if (options.channel && options.permissions) {
    const { permissions } = options;
    server.setNotificationHandler(
      PermissionRequestNotification,
      ({ params }: z.infer<typeof PermissionRequestNotification>) =>
        track(
          permissions.ask(params).catch((err: Error) => {
            // The local dialog stays open: the approval is only not relayed.
            ctx.log.warn(`An approval could not be relayed to the room: ${err.message}`);
          }),
        ),
    );
  }
  server.onerror = (err: Error) => ctx.log.debug(`MCP: ${err.message}`);
  return {
    server,
    async serve(transport) {
      const closed = new Promise<void>((resolve) => server.onclose = resolve);
      const stopPushing = new AbortController();
      let pushing: Promise<void> = Promise.resolve();
      if (options.channel) {
        // Pushed only once the client said it is ready: before, it may drop what it gets.
        server.oninitialized = () => {
          const { permissions } = options;
          pushing = pushMessages(ctx, {
            deliver: (message) => server.notification(channelEvent(message)),
            relay: permissions && {
              permissions,
              answer: (verdict) =>
                server.notification({ method: PERMISSION_EVENT, params: { ...verdict } }),
            },
            signal: stopPushing.signal,
          }).catch((err: Error) => {
            if (!stopPushing.signal.aborted) ctx.log.warn(`Pushing stopped: ${err.message}`);
          });
        };
      }
      await server.connect(deliveries.watch(transport));
      await closed;
      stopPushing.abort();
      await pushing;
      while (running.size > 0) await Promise.all([...running]);
      await deliveries.settled();
    },
  };
}
