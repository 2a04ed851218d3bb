import type { Failure } from "../errors.ts";

/** What the daemon hands to readers: inbox messages and its own status. */

/** Why a message is in the inbox: written in the agent's room, to every agent, or naming it. */
export const ROUTES = ["direct", "broadcast", "mention"] as const;
export type Route = typeof ROUTES[number];

export interface InboxMessage {
  /**
   * The short id agents quote back, numbered per user as the daemon stores the
   * message; absent before then, and on messages stored by an older daemon.
   */
  id?: number;
  eventId: string;
  roomId: string;
  route: Route;
  sender: string;
  /** The agent name the sender holds in the Space, when it is an agent. */
  senderName?: string;
  body: string;
  msgtype: string;
  /** The server's timestamp. */
  ts: number;
  /** False for notices: an agent must never answer one automatically (loop guard). */
  autoReply: boolean;
  replyTo?: string;
  threadRoot?: string;
  /** A briefing showed it cut short: it stays unread, but no briefing shows it again. */
  briefed?: boolean;
  /** The message this one edits (`m.replace`): its body is the new text, not "* …". */
  editOf?: string;
  /** The sender edited it while it was unread: the body is the latest text. */
  edited?: boolean;
  /** Its sender withdrew it (a redaction): the text is gone, and it left the inbox if unread. */
  withdrawn?: boolean;
}

/** The latest message a reader took in a room, waiting for the daemon to post its read receipt. */
export interface PendingReceipt {
  roomId: string;
  eventId: string;
  ts: number;
  /** The entry's version, so that posting it clears it only if no reader moved it meanwhile. */
  versionstamp: string;
}

export interface DaemonStatus {
  pid: number;
  host: string;
  name: string;
  startedAt: number;
  /** Last /sync that succeeded, by this machine's clock. */
  lastSyncAt: number | null;
  state: "booting" | "running" | "retrying" | "stopped";
  lastError: string | null;
  /** What kind of failure `lastError` is; null when the last step succeeded. */
  failure: Failure | null;
  spaceId: string | null;
  lobbyId: string | null;
  roomId: string | null;
  droppedSenders: number;
  /** What is wrong with the agent's rooms: an alias another account holds, a removal. */
  warnings?: string[];
}
