/**
 * Tool-use approvals relayed to the agent's room: a session asks (a tool, a
 * description, the input in short), the request appears in the room as a
 * notice that notifies the approvers, and an approver answers there with
 * "yes ID" or "no ID", which is easy on a phone. Only the approvers named in
 * the configuration count: anyone else's answer is an ordinary message.
 */
import type { InboxMessage } from "../store/types.ts";
import type { OpContext } from "./local.ts";
import { send } from "./send.ts";

/** What a session asks, as it asks it; every text in it is the session's, not to be trusted. */
export interface PermissionRequest {
  request_id: string;
  tool_name: string;
  description: string;
  input_preview: string;
}

export interface PermissionVerdict {
  request_id: string;
  behavior: "allow" | "deny";
}

/** An answer as people type it: "yes abcde", "n abcde"; the id is five letters, no "l". */
const ANSWER = /^\s*(y|yes|n|no)\s+([a-km-z]{5})\s*$/i;

/** Requests still open; the oldest are forgotten past this many (a session asks one at a time). */
const MAX_OPEN = 64;

export class PermissionRelay {
  readonly #open = new Set<string>();

  constructor(
    private readonly ctx: OpContext,
    /** The agent's own name: the request goes to its room. */
    private readonly name: string,
    readonly approvers: ReadonlySet<string>,
  ) {}

  /** Posts `request` in the agent's room for the approvers, and waits for their answer there. */
  async ask(request: PermissionRequest): Promise<void> {
    const id = request.request_id.toLowerCase();
    // A request whose id could not be answered would only be noise in the room.
    if (!/^[a-km-z]{5}$/.test(id)) {
      this.ctx.log.warn(
        `A permission request with the id "${request.request_id}" was not relayed.`,
      );
      return;
    }
    this.#open.add(id);
    if (this.#open.size > MAX_OPEN) this.#open.delete(this.#open.values().next().value!);
    await send(this.ctx, {
      to: this.name,
      notice: true,
      mentions: [...this.approvers],
      body: approvalText(request, id),
    });
  }

  /** The verdict `message` gives, when an approver answers an open request. */
  verdictOf(message: InboxMessage): PermissionVerdict | undefined {
    if (!this.approvers.has(message.sender)) return undefined;
    const answer = ANSWER.exec(message.body);
    const id = answer?.[2].toLowerCase();
    if (id === undefined || !this.#open.has(id)) return undefined;
    return {
      request_id: id,
      behavior: answer![1].toLowerCase().startsWith("y") ? "allow" : "deny",
    };
  }

  /** The request was answered: a later answer to it is an ordinary message. */
  close(requestId: string): void {
    this.#open.delete(requestId);
  }
}

/**
 * The request as the room shows it: what the tool is and what it would do,
 * the input as a code block so no Markdown in it takes effect, and how to answer.
 */
function approvalText(request: PermissionRequest, id: string): string {
  const fence = "`".repeat(Math.max(3, longestRun(request.input_preview, "`") + 1));
  return [
    `**Approval asked (${id})**: ${inline(request.tool_name)}, ${inline(request.description)}`,
    "",
    fence,
    request.input_preview,
    fence,
    "",
    `Answer "yes ${id}" or "no ${id}".`,
  ].join("\n");
}

/** A text shown inside a sentence: code, so that it cannot format or mention anything. */
function inline(text: string): string {
  const ticks = "`".repeat(longestRun(text, "`") + 1);
  return `${ticks} ${text.replace(/\s+/g, " ")} ${ticks}`;
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  for (const run of text.match(new RegExp(`\\${char}+`, "g")) ?? []) {
    longest = Math.max(longest, run.length);
  }
  return longest;
}
