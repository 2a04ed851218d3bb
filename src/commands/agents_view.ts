/** How agents look on screen and in JSON; `demo` and `who` share it so their columns never drift. */
import type { Agent } from "../space/agents.ts";
import { formatTable } from "../output.ts";

export const AGENT_COLUMNS = ["NAME", "STATUS", "LAST BEAT", "HOST", "ROOM"];

/** "12s", "4m", "3h", "2d" ago; "never" without a beat. */
export function formatAge(ms: number | null): string {
  if (ms === null) return "never";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function agentTable(agents: Agent[]): string {
  if (agents.length === 0) return "No agents yet.";
  const rows = [...agents]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((a) => [a.name, a.status, formatAge(a.lastBeatAgeMs), a.host || "-", a.alias]);
  return formatTable(AGENT_COLUMNS, rows);
}

/** The JSON form: snake_case like the Matrix API, one object per agent. */
export function agentJson(agent: Agent): Record<string, unknown> {
  return {
    name: agent.name,
    status: agent.status,
    last_beat_age_ms: agent.lastBeatAgeMs,
    host: agent.host,
    version: agent.version,
    user_id: agent.userId,
    room_id: agent.roomId,
    room_alias: agent.alias,
  };
}
