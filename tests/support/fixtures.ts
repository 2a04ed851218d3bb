/** Sample data shared by the tests of the views and of their text form. */
import type { InboxMessage } from "../../src/store/types.ts";
import type { Agent } from "../../src/space/agents.ts";

export const agent = (name: string, overrides: Partial<Agent> = {}): Agent => ({
  name,
  userId: `@${name}:hs`,
  roomId: `!${name}`,
  alias: `#agents-${name}:hs`,
  status: "online",
  lastBeatAgeMs: 5_000,
  host: "box",
  version: "0.1.0",
  ...overrides,
});

export const MESSAGE: InboxMessage = {
  eventId: "$ev1",
  roomId: "!own:hs",
  route: "direct",
  sender: "@bob:hs",
  body: "build is green",
  msgtype: "m.text",
  // 2023-11-14T22:13:20.987Z
  ts: 1_700_000_000_987,
  autoReply: true,
};

/** Message `n` of a test inbox: a direct one from alice, a second apart. */
export function inboxMessage(n: number, overrides: Partial<InboxMessage> = {}): InboxMessage {
  return {
    eventId: `$m${n}`,
    roomId: "!own:hs.test",
    route: "direct",
    sender: "@alice:hs.test",
    body: `note ${n}`,
    msgtype: "m.text",
    ts: Date.UTC(2024, 0, 2, 3, 4, n),
    autoReply: true,
    ...overrides,
  };
}

/** The tools `cchat mcp` lists, by name, sorted. */
export const MCP_TOOLS = ["ack", "history", "inbox", "send", "wait", "who"];
