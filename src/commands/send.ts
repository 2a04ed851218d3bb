import { distance } from "fastest-levenshtein";
import type { Deps } from "../deps.ts";
import { CchatError, MatrixError, UsageError } from "../errors.ts";
import { textContent } from "../matrix/client.ts";
import type { TextMessage } from "../matrix/types.ts";
import type { Output } from "../output.ts";
import { validateAgentName } from "../space/names.ts";
import { openSession, type Session } from "./context.ts";
import { readStdin } from "./input.ts";

export interface SendOptions {
  to?: string;
  notice: boolean;
  reply?: string;
  thread?: string;
  /** The text, or "-" to read it from standard input. */
  text: string;
}

/**
 * Synapse refuses events over 65,536 bytes with 413 M_TOO_LARGE; the event
 * wraps the content in about 1 KiB of ids, hashes and signatures.
 */
export const MAX_CONTENT_BYTES = 64_000;

export async function run(deps: Deps, out: Output, options: SendOptions): Promise<number> {
  // Everything that can be checked without the network is checked first, so bad input sends nothing.
  if (options.to !== undefined) validateAgentName(options.to);
  const body = options.text === "-" ? (await readStdin(deps)).replace(/\r?\n$/, "") : options.text;
  if (body.trim() === "") {
    throw new UsageError("The message is empty.", {
      hint: 'Give the text as an argument, or "-" to read it from stdin.',
    });
  }
  const message: TextMessage = {
    body,
    msgtype: options.notice ? "m.notice" : "m.text",
    replyTo: options.reply,
    threadRoot: options.thread,
  };
  const size = new TextEncoder().encode(JSON.stringify(textContent(message))).length;
  if (size > MAX_CONTENT_BYTES) {
    throw new UsageError(
      `The message is ${size} bytes; the homeserver takes at most ${MAX_CONTENT_BYTES}.`,
      {
        hint: "Shorten it, or split it into several messages.",
      },
    );
  }
  await using session = await openSession(deps, out, {});
  const roomId = options.to === undefined
    ? await session.spaces.lobbyRoom()
    : await agentRoomOrSuggest(session, options.to);
  const txnId = crypto.randomUUID();
  let eventId: string;
  try {
    eventId = await session.client.sendText(roomId, message, txnId);
  } catch (err) {
    // Not in the room yet: join it and send the same transaction again.
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
    await join(session, roomId);
    eventId = await session.client.sendText(roomId, message, txnId);
  }
  if (out.json) out.data({ event_id: eventId, room_id: roomId, to: options.to ?? "lobby" });
  else out.line(eventId);
  return 0;
}

/** Agent rooms admit members of the Space: a sender that never booted joins the Space first. */
async function join(session: Session, roomId: string): Promise<void> {
  try {
    await session.client.join(roomId, [session.serverName]);
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
    await session.spaces.open({ create: false });
    await session.client.join(roomId, [session.serverName]);
  }
}

async function agentRoomOrSuggest(session: Session, name: string): Promise<string> {
  try {
    return await session.spaces.agentRoom(name);
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 404)) throw err;
  }
  const directory = await session.spaces.open({ create: false });
  const names = directory ? (await session.spaces.listAgents(directory)).map((a) => a.name) : [];
  const close = names
    .map((candidate) => ({ candidate, d: distance(candidate, name) }))
    .filter(({ candidate, d }) =>
      d <= Math.max(2, Math.floor(name.length / 3)) || candidate.includes(name)
    )
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ candidate }) => `"${candidate}"`);
  throw new CchatError(`No agent is called "${name}".`, {
    hint: close.length
      ? `Did you mean ${close.join(" or ")}?`
      : 'Run "cchat who" to list the agents.',
  });
}
