/**
 * `cchat hook EVENT`: a Claude Code hook. Claude Code runs it with the event's
 * JSON on stdin and reads the answer from stdout; the inbox comes from the
 * data file alone, so with a stored login the hook never asks the homeserver.
 */
import { buildCommand } from "@stricli/core";
import type { Deps } from "../deps.ts";
import { CchatError, ExitCode } from "../errors.ts";
import { type Briefing, briefing, BRIEFING_BODY_CHARS } from "../ops/briefing.ts";
import { action, type CliContext, type Reply, type Run } from "./common.ts";
import { formatMessage } from "./text.ts";

const EVENTS = ["UserPromptSubmit", "PostToolUse", "Stop", "SubagentStop"] as const;
type HookEvent = typeof EVENTS[number];
/** A subagent's stop is a stop: it is kept going by the same rule. */
const STOPS: readonly HookEvent[] = ["Stop", "SubagentStop"];

/**
 * The input read at the most. Claude Code sends a few kilobytes, except after
 * a tool that returned much (a large file written): the hook needs only the
 * event's name and `stop_hook_active`, and goes on without the rest.
 */
export const MAX_INPUT_BYTES = 1_000_000;

const EVENTS_HINT = `The events are ${EVENTS.join(", ")}, for example "cchat hook Stop".`;

/**
 * Claude Code reads exit code 2 as "block": it erases the prompt, or keeps the
 * agent going. Every failure of a hook exits 1 instead, which it reports
 * without blocking; only a deliberate answer blocks.
 */
class HookError extends CchatError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: ExitCode.failure });
  }
}

export const hookCommand = buildCommand<Record<never, never>, [string], CliContext>({
  func: action(async (run: Run, _flags: Record<never, never>, name: string) => {
    const named = hookEvent(name);
    const input = await readInput(run.deps);
    // What happened is what Claude Code says happened: a subagent's stop sent to "hook Stop".
    const said = input.fields.hook_event_name;
    if (said !== undefined && said !== named) {
      const event = EVENTS.find((e) => e === said);
      if (!event) {
        run.out.debug(`The hook input is for "${said}", which cchat does not answer.`);
        return {};
      }
      return await answer(run, event, input);
    }
    return await answer(run, named, input);
  }),
  parameters: {
    positional: {
      kind: "tuple",
      parameters: [{ brief: EVENTS.join(" | "), parse: String, placeholder: "EVENT" }],
    },
  },
  docs: {
    brief:
      "Answer a Claude Code hook with the unread messages (UserPromptSubmit, PostToolUse, Stop, SubagentStop)",
    fullDescription: [
      "Reads the hook's JSON on stdin and answers in the form Claude Code expects.",
      "UserPromptSubmit and PostToolUse add the first few unread messages to the context;",
      "Stop and SubagentStop keep the agent from stopping while direct messages or mentions",
      "wait, unless stop_hook_active is set. Each message is shown once: whole (then read), or",
      "cut at 4,000 characters (it stays unread for cchat inbox). With nothing to say it prints",
      "nothing. Never exits 2, which Claude Code reads as block: any failure exits 1. Reads only the local inbox.",
    ].join(" "),
  },
});

function hookEvent(name: string): HookEvent {
  const event = EVENTS.find((e) => e === name);
  if (!event) throw new HookError(`"${name}" is not a hook event cchat answers.`, EVENTS_HINT);
  return event;
}

interface HookInput {
  fields: Record<string, unknown>;
  /** Longer than MAX_INPUT_BYTES: only the event named on the command line is known. */
  partial: boolean;
}

/** The hook's input: a JSON object, or, past MAX_INPUT_BYTES, nothing but that it was large. */
async function readInput(deps: Pick<Deps, "stdin">): Promise<HookInput> {
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  const reader = deps.stdin.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_INPUT_BYTES) {
        await reader.cancel();
        return { fields: {}, partial: true };
      }
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  let input: unknown;
  try {
    input = JSON.parse(text + decoder.decode());
  } catch {
    // Reported below, as for any other input that is not an object.
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new HookError("The hook input on stdin is not a JSON object.");
  }
  return { fields: input as Record<string, unknown>, partial: false };
}

async function answer(run: Run, event: HookEvent, input: HookInput): Promise<Reply> {
  const ctx = { deps: run.deps, log: run.out };
  if (STOPS.includes(event)) {
    // Claude Code sets it while it carries on because of a Stop hook: blocking again could loop.
    // An input too large to read may have said so: then never block.
    if (input.partial || input.fields.stop_hook_active === true) return {};
    const { value: brief, settle } = await briefing(ctx, { answerable: true });
    if (brief.messages.length === 0) return { settle };
    return { text: JSON.stringify({ decision: "block", reason: stopReason(brief) }), settle };
  }
  const { value: brief, settle } = await briefing(ctx);
  if (brief.messages.length === 0) return { settle };
  const hookSpecificOutput = { hookEventName: event, additionalContext: context(brief) };
  return { text: JSON.stringify({ hookSpecificOutput }), settle };
}

/** Each shown message on one line, as plain `inbox` prints it. */
function lines(brief: Briefing): string[] {
  return brief.messages.map((m) =>
    formatMessage(m) +
    (m.truncated
      ? ` (cut at ${BRIEFING_BODY_CHARS} of ${m.length} characters; the whole: cchat inbox --json)`
      : "")
  );
}

function count(brief: Briefing, what: string): string {
  const n = `${brief.unread}${brief.capped ? "+" : ""}`;
  return `${n} unread ${what}${brief.unread === 1 && !brief.capped ? "" : "s"}`;
}

function rest(brief: Briefing): string[] {
  return brief.left > 0
    ? [`${brief.left}${brief.capped ? "+" : ""} more unread: run cchat inbox`]
    : [];
}

function context(brief: Briefing): string {
  return [`cchat: ${count(brief, "message")}:`, ...lines(brief), ...rest(brief)].join("\n");
}

function stopReason(brief: Briefing): string {
  return [
    `cchat: ${count(brief, "message")} for you (direct or mentioning you):`,
    ...lines(brief),
    ...rest(brief),
    "Answer them before you stop: cchat reply ID TEXT with the #ID of the message, or the MCP send tool with reply set to the ID.",
  ].join("\n");
}
