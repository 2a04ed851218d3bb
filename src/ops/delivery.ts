/**
 * How far a sent message got, as its sender can learn it: sent (the server
 * has it), read (its recipient's reader took it, pushed it or showed it
 * whole, and so posted a read receipt: the one people see in Element), and
 * answered (someone replied to it, or wrote in its thread).
 */
import { CchatError, ExitCode, UsageError } from "../errors.ts";
import { relation } from "../matrix/message_text.ts";
import type { MatrixEvent, SyncResponse } from "../matrix/types.ts";
import { agentNames } from "../space/roster.ts";
import type { OpContext } from "./local.ts";
import type { DeliveryResultSchema } from "./schemas.ts";
import { type DeliveryState, LADDER } from "./ladder.ts";
import { openSession, type Session } from "./session.ts";
import type { z } from "zod/v4";

export type DeliveryResult = z.infer<typeof DeliveryResultSchema>;

/** What to wait for: a state at least this far up the ladder, for at most `timeoutMs`. */
export interface DeliveryWait {
  state: Exclude<DeliveryState, "sent">;
  /** Forever when absent. */
  timeoutMs?: number;
}

/** A message this agent sent, as its data file remembers it. */
export interface SentMessage {
  eventId: string;
  roomId: string;
  /** An agent's name, "lobby", or the user id a reply answers. */
  to: string;
}

/** One long-poll for receipts and answers lasts at most this long. */
const POLL_MS = 30_000;
/** How much of the room's recent timeline is searched for answers. */
const RECENT = 50;

/** `--await read[:SECONDS]` or `answered[:SECONDS]`, as the command line spells it. */
export function parseAwait(spec: string): DeliveryWait {
  const match = /^(read|answered)(?::(\d+(?:\.\d+)?))?$/.exec(spec);
  if (!match) {
    throw new UsageError(`"${spec}" is not a state to wait for.`, {
      hint: 'Give "read" or "answered", optionally with seconds: "read:30".',
    });
  }
  const state = match[1] as DeliveryWait["state"];
  return match[2] === undefined ? { state } : { state, timeoutMs: Number(match[2]) * 1000 };
}

/** The state of a message this agent sent, by its event id; waits first when told to. */
export async function delivery(
  ctx: OpContext,
  options: { eventId: string; await?: DeliveryWait; signal?: AbortSignal },
): Promise<DeliveryResult> {
  await using session = await openSession(ctx, {}, { signal: options.signal });
  const sent = await session.store.sentMessage(options.eventId);
  if (!sent) {
    throw new UsageError(`No message "${options.eventId}" was sent from here.`, {
      hint: "Give the event id that send printed; sent messages are remembered for the inbox " +
        "retention, in the data directory of the agent that sent them.",
    });
  }
  return await track(ctx, session, sent, options.await);
}

/**
 * Reads the room's receipts and recent answers through a sync of that room
 * alone, and long-polls it until `awaited` is reached or its time is up.
 */
export async function track(
  { deps }: OpContext,
  session: Session,
  sent: SentMessage,
  awaited?: DeliveryWait,
): Promise<DeliveryResult> {
  const { client } = session;
  const recipient = await recipientOf(session, sent.to);
  const filter = JSON.stringify({
    // Synapse answers a sync the same as one it answered in the last two minutes (its
    // response cache): a key of its own, which servers ignore, makes each look a new one.
    "dev.cchat.look": deps.random().toString(36).slice(2),
    presence: { not_types: ["*"] },
    account_data: { not_types: ["*"] },
    room: {
      rooms: [sent.roomId],
      state: { not_types: ["*"] },
      account_data: { not_types: ["*"] },
      timeline: { types: ["m.room.message"], limit: RECENT },
      ephemeral: { types: ["m.receipt"] },
    },
  });
  const seen = new Seen(session, sent, recipient);
  const deadline = awaited?.timeoutMs === undefined ? Infinity : deps.now() + awaited.timeoutMs;
  let since: string | undefined;
  for (;;) {
    const left = deadline - deps.now();
    const response = await client.sync({
      filter,
      since,
      timeoutMs: since === undefined ? 0 : Math.max(0, Math.min(POLL_MS, left)),
    });
    seen.add(response);
    since = response.next_batch;
    const result = await seen.result();
    if (!awaited || LADDER.indexOf(result.state) >= LADDER.indexOf(awaited.state)) return result;
    if (deadline - deps.now() <= 0) {
      throw new NotYetError(result, awaited);
    }
  }
}

/** A wait for a state that did not come in time; the state reached so far goes with it. */
export class NotYetError extends CchatError {
  constructor(readonly result: DeliveryResult, awaited: DeliveryWait) {
    super(
      `The message "${result.event_id}" is ${result.state}, not ${awaited.state}, after ` +
        `${(awaited.timeoutMs ?? 0) / 1000} s.`,
      {
        hint: `Ask again later with "cchat delivery ${result.event_id}".`,
        exitCode: ExitCode.timeout,
      },
    );
  }
}

/** Whose reading counts: an agent's, a replied sender's, or anyone's in the lobby. */
async function recipientOf(session: Session, to: string): Promise<string | undefined> {
  if (to.startsWith("@")) return to;
  if (to === "lobby") return undefined;
  return (await agentNames(session.space)).get(to);
}

/** What the room's sync showed so far: each user's latest receipt, and the messages around. */
class Seen {
  readonly #receipts = new Map<string, string>();
  readonly #events = new Map<string, MatrixEvent>();

  constructor(
    private readonly session: Session,
    private readonly sent: SentMessage,
    private readonly recipient: string | undefined,
  ) {}

  add(response: SyncResponse): void {
    const room = response.rooms?.join?.[this.sent.roomId];
    for (const event of room?.timeline?.events ?? []) this.#events.set(event.event_id, event);
    for (const event of room?.ephemeral?.events ?? []) {
      if (event.type !== "m.receipt") continue;
      for (const [eventId, types] of Object.entries(event.content)) {
        const read = (types as Record<string, Record<string, unknown>>)["m.read"] ?? {};
        for (const userId of Object.keys(read)) this.#receipts.set(userId, eventId);
      }
    }
  }

  async result(): Promise<DeliveryResult> {
    const ours = await this.#event(this.sent.eventId);
    const me = this.session.userId;
    const readBy: string[] = [];
    for (const [userId, eventId] of this.#receipts) {
      if (userId === me) continue;
      // A receipt says its reader is done with everything up to the event it names.
      const upTo = eventId === ours.event_id ? ours : await this.#event(eventId).catch(() => null);
      if (upTo && upTo.origin_server_ts >= ours.origin_server_ts) readBy.push(userId);
    }
    const answeredBy = [...this.#events.values()]
      .filter((event) => event.sender !== me && event.event_id !== ours.event_id)
      .filter((event) => {
        const { replyTo, threadRoot } = relation(event);
        return replyTo === ours.event_id || threadRoot === ours.event_id;
      })
      .map((event) => ({ event_id: event.event_id, sender: event.sender }));
    const read = this.recipient === undefined
      ? readBy.length > 0
      : readBy.includes(this.recipient) || answeredBy.some((a) => a.sender === this.recipient);
    return {
      event_id: ours.event_id,
      room_id: this.sent.roomId,
      to: this.sent.to,
      state: answeredBy.length > 0 ? "answered" : read ? "read" : "sent",
      read_by: readBy.sort(),
      answered_by: answeredBy,
    };
  }

  async #event(eventId: string): Promise<MatrixEvent> {
    const known = this.#events.get(eventId);
    if (known) return known;
    const event = await this.session.client.event(this.sent.roomId, eventId);
    this.#events.set(eventId, event);
    return event;
  }
}
