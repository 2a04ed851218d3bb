/** How data looks to people; `--json` prints the same data as it is. */
import type { AgentView, HistoryResult, MessageView } from "../ops/views.ts";
import { formatTable } from "../output.ts";
import { visible } from "../visible.ts";

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

export function agentTable(agents: AgentView[]): string {
  if (agents.length === 0) return "No agents yet.";
  const rows = [...agents]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((a) => [a.name, a.status, formatAge(a.last_beat_age_ms), a.host || "-", a.room_alias]);
  // The host and the alias come from other agents' events: shown, never obeyed by the terminal.
  return formatTable(AGENT_COLUMNS, rows.map((row) => row.map((cell) => visible(cell))));
}

/**
 * One message for people: its short id, when, who, how it reached us, and
 * the text. A header is the only line that starts at the margin: later lines
 * of the body are indented, so a body cannot pass itself off as another message.
 */
export function formatMessage(m: MessageView): string {
  const id = m.id === null ? "" : `#${m.id} `;
  const when = timeOf(m.ts);
  const flags = [
    m.route,
    ...(m.auto_reply ? [] : ["notice: do not auto-reply"]),
    ...(m.edit_of === null ? [] : [`edit of ${visible(m.edit_of)}`]),
    ...(m.edited ? ["edited"] : []),
  ].join(", ");
  return `${id}[${when}] ${senderOf(m)} (${flags}): ${indented(m.body)}`;
}

/** The sender by its agent name, with the user id that proves it, or by its user id alone. */
const senderOf = (m: { sender: string; sender_name: string | null }) =>
  m.sender_name === null ? visible(m.sender) : `${visible(m.sender_name)} ${visible(m.sender)}`;

const timeOf = (ts: number) => new Date(ts).toISOString().replace("T", " ").slice(0, 19);

/** A body whose later lines are indented under its header, every hidden character shown. */
const indented = (body: string) =>
  body.split(/\r?\n/).map((line) => visible(line, "\t")).join("\n  ");

/** A room's or a thread's messages, one header each, by agent name where the sender has one. */
export function formatHistory(messages: HistoryResult["messages"]): string {
  return messages.map((m) => {
    const flags = [
      ...(m.thread_root === null ? [] : ["in thread"]),
      ...(m.reply_to === null ? [] : ["reply"]),
      ...(m.edited ? ["edited"] : []),
    ];
    const shown = flags.length ? ` (${flags.join(", ")})` : "";
    return `[${timeOf(m.ts)}] ${senderOf(m)}${shown}: ${indented(m.body)}`;
  }).join("\n");
}
