/**
 * `cchat hook EVENT`: a Claude Code hook. Claude Code runs it with the event's
 * JSON on stdin and reads the answer from stdout; the inbox comes from the
 * data file alone, so with a stored login the hook never asks the homeserver.
 */
import { buildCommand } from "@stricli/core";
import type { Deps } from "../deps.ts";
import { UsageError } from "../errors.ts";
import { type Briefing, briefing } from "../ops/briefing.ts";
import { action, type CliContext } from "./common.ts";
import { formatMessage } from "./text.ts";

const EVENTS = ["UserPromptSubmit", "PostToolUse", "Stop"] as const;
type HookEvent = typeof EVENTS[number];

/** Claude Code sends a few kilobytes; anything near this is not its input. */
export const MAX_INPUT_BYTES = 1_000_000;

const EVENTS_HINT = `The events are ${EVENTS.join(", ")}, for example "cchat hook Stop".`;

export const hookCommand = buildCommand<Record<never, never>, [string], CliContext>({
  func: action(async ({ deps, out }, _flags: Record<never, never>, name: string) => {
    const event = hookEvent(name);
    const input = await readInput(deps, event);
    if (event === "Stop") {
      // Claude Code sets it while it carries on because of a Stop hook: blocking again could loop.
      if (input.stop_hook_active === true) return {};
      const brief = await briefing({ deps, log: out }, { answerable: true });
      if (brief.messages.length === 0) return {};
      return { text: JSON.stringify({ decision: "block", reason: stopReason(brief) }) };
    }
    const brief = await briefing({ deps, log: out });
    if (brief.messages.length === 0) return {};
    const hookSpecificOutput = { hookEventName: event, additionalContext: context(brief) };
    return { text: JSON.stringify({ hookSpecificOutput }) };
  }),
  parameters: {
    positional: {
      kind: "tuple",
      parameters: [{ brief: EVENTS.join(" | "), parse: String, placeholder: "EVENT" }],
    },
  },
  docs: {
    brief:
      "Answer a Claude Code hook with the unread messages (UserPromptSubmit, PostToolUse, Stop)",
    fullDescription: [
      "Reads the hook's JSON on stdin and answers in the form Claude Code expects.",
      "UserPromptSubmit and PostToolUse add the first few unread messages to the context;",
      "Stop keeps the agent from stopping while direct messages or mentions wait, unless",
      "stop_hook_active is set. Messages shown whole are marked read; with nothing to say it",
      "prints nothing. Reads only the local inbox, so it needs a stored login to stay offline.",
    ].join(" "),
  },
});

function hookEvent(name: string): HookEvent {
  const event = EVENTS.find((e) => e === name);
  if (!event) {
    throw new UsageError(`"${name}" is not a hook event cchat answers.`, { hint: EVENTS_HINT });
  }
  return event;
}

/** The hook's input: a JSON object of at most MAX_INPUT_BYTES, for `event`. */
async function readInput(deps: Pick<Deps, "stdin">, event: HookEvent) {
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for await (const chunk of deps.stdin) {
    size += chunk.length;
    if (size > MAX_INPUT_BYTES) {
      throw new UsageError(`The hook input is over ${MAX_INPUT_BYTES} bytes.`, {
        hint: "Claude Code passes the hook's JSON on stdin; pipe nothing else in.",
      });
    }
    text += decoder.decode(chunk, { stream: true });
  }
  let input: unknown;
  try {
    input = JSON.parse(text + decoder.decode());
  } catch {
    // Reported below, as for any other input that is not an object.
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new UsageError("The hook input on stdin is not a JSON object.", { hint: EVENTS_HINT });
  }
  const fields = input as Record<string, unknown>;
  const named = fields.hook_event_name;
  if (named !== undefined && named !== event) {
    throw new UsageError(`The hook input is for "${named}", not "${event}".`, {
      hint: `Run "cchat hook ${named}" for that event in the Claude Code settings.`,
    });
  }
  return fields;
}

/** Each shown message on one line, as plain `inbox` prints it. */
function lines(brief: Briefing): string[] {
  return brief.messages.map((m) =>
    formatMessage(m) + (m.truncated ? " (cut short, still unread)" : "")
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
    "Answer them before you stop: cchat reply ID TEXT with the #ID of the message, or the MCP reply tool.",
  ].join("\n");
}
