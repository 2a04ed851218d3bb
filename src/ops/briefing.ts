/**
 * A short account of the inbox for a reader with little room, such as a
 * model's context between two steps: how many messages wait, and the first
 * few. A message is shown to such a reader once, never again: whole up to
 * BRIEFING_BODY_CHARS, then it is read; longer, cut there, and it stays
 * unread for `inbox` and `wait`, which give it whole, while no later briefing
 * shows it or counts it. Answering a message (`reply`) reads it too.
 */
import type { InboxMessage } from "../store/types.ts";
import type { OpContext } from "./local.ts";
import { type Taken, takeWith } from "./taken.ts";
import { type MessageView, messageView } from "./views.ts";
import { visibleChar } from "../visible.ts";

/** The most messages one briefing shows. */
export const BRIEFING_MESSAGES = 5;
/** The most characters of one body a briefing shows; a longer body is cut and left unread. */
export const BRIEFING_BODY_CHARS = 4_000;
/**
 * The room for the senders and bodies of the shown messages together: with a
 * face's few words around each, the whole stays under 9,000 characters,
 * whatever the ids and the bodies hold, inside the 10,000 that Claude Code
 * passes on of a hook's answer.
 */
export const BRIEFING_CHARS = 8_000;
/** How many unread messages a briefing reads; past it the count is a lower bound. */
export const BRIEFING_SCAN = 1_000;

export interface BriefingOptions {
  /** Count only what asks this agent for an answer: direct messages and mentions, no notices. */
  answerable?: boolean;
  signal?: AbortSignal;
}

export interface BriefedMessage extends MessageView {
  /** The body was cut short: the message stays unread, to be read whole with `inbox`. */
  truncated: boolean;
  /** The body's length in characters, when cut. */
  length: number;
}

export interface Briefing {
  /** The unread messages that count and were not briefed before, as found before this briefing. */
  unread: number;
  /** More than BRIEFING_SCAN messages wait: `unread` is only a lower bound. */
  capped: boolean;
  /**
   * The first few that count, oldest first. `sender` and `body` are one line
   * each, their control characters escaped, and the body is an excerpt.
   */
  messages: BriefedMessage[];
  /** Counted messages not shown by this briefing, to come in the next one. */
  left: number;
}

/**
 * Takes the first few unread messages that count and were never shown to
 * such a reader. A message another reader takes meanwhile is left out, so no
 * message is shown whole to two readers. Settle it once the face has shown it.
 */
export async function briefing(
  ctx: OpContext,
  options: BriefingOptions = {},
): Promise<Taken<Briefing>> {
  return await takeWith(ctx, options.signal, async (session) => {
    const scanned = await session.store.unread(BRIEFING_SCAN + 1);
    const counted = scanned.slice(0, BRIEFING_SCAN).filter((m) =>
      !m.briefed && (!options.answerable || asksForAnswer(m))
    );
    const chosen = choose(counted);
    const whole = chosen.filter((c) => !c.truncated).map((c) => c.message);
    const claimed = await session.store.claimMessages(whole);
    const won = new Set(claimed.map((m) => m.eventId));
    const shown = chosen.filter((c) => c.truncated || won.has(c.message.eventId));
    return {
      messages: claimed,
      briefed: shown.filter((c) => c.truncated).map((c) => c.message),
      value: {
        unread: counted.length,
        capped: scanned.length > BRIEFING_SCAN,
        messages: shown.map(({ message, sender, body, truncated }) => ({
          ...messageView(message),
          sender,
          body,
          truncated,
          length: message.body.length,
        })),
        left: counted.length - chosen.length,
      },
    };
  });
}

function asksForAnswer(m: InboxMessage): boolean {
  return m.route !== "broadcast" && m.autoReply;
}

interface Choice {
  message: InboxMessage;
  sender: string;
  body: string;
  truncated: boolean;
}

/** The first messages that fit the bounds, oldest first. */
function choose(messages: InboxMessage[]): Choice[] {
  const chosen: Choice[] = [];
  let room = BRIEFING_CHARS;
  for (const message of messages.slice(0, BRIEFING_MESSAGES)) {
    const sender = excerpt(message.sender, Infinity).text;
    const { text: body, truncated } = excerpt(message.body, BRIEFING_BODY_CHARS);
    const size = sender.length + body.length;
    if (size > room) break;
    room -= size;
    chosen.push({ message, sender, body, truncated });
  }
  return chosen;
}

const ELLIPSIS = "…";

/**
 * `text` on one line, its control characters escaped, cut to at most `max`
 * characters with an ellipsis; never inside an escape or a surrogate pair.
 */
export function excerpt(text: string, max: number): { text: string; truncated: boolean } {
  const pieces = Array.from(text, visibleChar);
  const whole = pieces.join("");
  if (whole.length <= max) return { text: whole, truncated: false };
  let cut = "";
  for (const piece of pieces) {
    if (cut.length + piece.length > max - ELLIPSIS.length) break;
    cut += piece;
  }
  return { text: cut + ELLIPSIS, truncated: true };
}
