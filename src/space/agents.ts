/** Pure reading of heartbeats: who is online. */
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_STALE_AFTER } from "../defaults.ts";
import { EVENT_HEARTBEAT } from "./names.ts";

export const AGENT_STATUSES = ["online", "offline"] as const;
export type AgentStatus = typeof AGENT_STATUSES[number];

export interface Heartbeat {
  userId: string;
  name: string;
  status: AgentStatus;
  seq: number;
  intervalMs: number;
  host: string;
  version: string;
  /** The server's timestamp of the beat. */
  ts: number;
}

export interface Agent {
  name: string;
  userId: string;
  /** Null when the agent's room is unknown (lobby-only mode). */
  roomId: string | null;
  alias: string;
  status: AgentStatus;
  /** Milliseconds since the last beat, by the server's clock; null when it never beat. */
  lastBeatAgeMs: number | null;
  host: string;
  version: string;
}

/** What of a state event a beat is read from. */
export interface BeatEvent {
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Reads a heartbeat state event. Returns a reason string for anything
 * malformed, so callers can note it and move on instead of crashing.
 */
export function parseHeartbeat(event: BeatEvent): Heartbeat | string {
  const c = event.content;
  if (event.type !== EVENT_HEARTBEAT) return `not a heartbeat: "${event.type}"`;
  if (typeof event.state_key !== "string" || event.state_key !== event.sender) {
    return `heartbeat state key "${event.state_key}" is not its sender "${event.sender}"`;
  }
  if (!isRecord(c) || typeof c.name !== "string" || typeof c.seq !== "number") {
    return `heartbeat of "${event.sender}" is malformed`;
  }
  return {
    userId: event.sender,
    name: c.name,
    status: c.status === "offline" ? "offline" : "online",
    seq: c.seq,
    intervalMs: typeof c.interval_ms === "number" && c.interval_ms > 0
      ? c.interval_ms
      : DEFAULT_HEARTBEAT_INTERVAL_MS,
    host: typeof c.host === "string" ? c.host : "",
    version: typeof c.version === "string" ? c.version : "",
    ts: event.origin_server_ts,
  };
}

/** The content of a heartbeat; `seq` changes every beat so the server never drops it as a no-op. */
export function heartbeatContent(beat: Omit<Heartbeat, "userId" | "ts">): Record<string, unknown> {
  return {
    name: beat.name,
    status: beat.status,
    seq: beat.seq,
    interval_ms: beat.intervalMs,
    host: beat.host,
    version: beat.version,
  };
}

/** Online while the last beat is younger than `staleAfter` × its interval and not a goodbye. */
export function statusOf(
  beat: Heartbeat | undefined,
  now: number,
  staleAfter = DEFAULT_STALE_AFTER,
): AgentStatus {
  if (!beat || beat.status === "offline") return "offline";
  return now - beat.ts < staleAfter * beat.intervalMs ? "online" : "offline";
}

export function toAgent(
  entry: { name: string; userId: string; roomId: string | null; alias: string },
  beat: Heartbeat | undefined,
  now: number,
  staleAfter?: number,
): Agent {
  return {
    ...entry,
    status: statusOf(beat, now, staleAfter),
    lastBeatAgeMs: beat ? Math.max(0, now - beat.ts) : null,
    host: beat?.host ?? "",
    version: beat?.version ?? "",
  };
}
