/**
 * What people read, held to files beside this test: a change in the plain
 * text of `who`, `inbox` or `status` is a change to one of these files, seen
 * in review. CCHAT_UPDATE_SNAPSHOTS=1 writes them anew.
 */
import assert from "node:assert/strict";
import { agentTable, formatMessage } from "../../src/commands/text.ts";
import { statusText } from "../../src/commands/status.ts";
import type { StatusResult } from "../../src/ops/status.ts";
import { type AgentView, type MessageView, messageView } from "../../src/ops/views.ts";
import type { InboxMessage } from "../../src/store/types.ts";
import { inboxMessage } from "../support/fixtures.ts";

const update = Deno.env.get("CCHAT_UPDATE_SNAPSHOTS") === "1";

async function matchesSnapshot(name: string, text: string): Promise<void> {
  const path = new URL(`./snapshots/${name}.txt`, import.meta.url);
  if (update) return await Deno.writeTextFile(path, `${text}\n`);
  assert.equal(`${text}\n`, await Deno.readTextFile(path), `snapshots/${name}.txt`);
}

const agent = (name: string, overrides: Partial<AgentView> = {}): AgentView => ({
  name,
  status: "online",
  last_beat_age_ms: 12_000,
  host: "build-01",
  version: "0.1.0",
  user_id: `@${name}:example.org`,
  room_id: `!${name}:example.org`,
  room_alias: `#agents-${name}:example.org`,
  ...overrides,
});

/** A message as the inbox hands it to a face; `id` null for one stored before short ids. */
const message = (id: number | null, overrides: Partial<InboxMessage> = {}): MessageView =>
  messageView({
    ...inboxMessage(id ?? 0, {
      eventId: `$${id ?? "old"}`,
      roomId: "!builder:example.org",
      sender: "@alice:example.org",
      body: "please look at build 142",
      ts: Date.UTC(2026, 11, 4, 10, 20, 30),
      ...overrides,
    }),
    id: id ?? undefined,
  });

const report = (overrides: Partial<StatusResult> = {}): StatusResult => ({
  user_id: "@builder:example.org",
  homeserver: "https://matrix.example.org",
  homeserver_reachable: true,
  token_valid: true,
  space_alias: "#agents:example.org",
  space: "ok",
  state: "running",
  daemon_state: "running",
  lease: { pid: 4242, host: "build-01", since: 0, expiresAt: 0 },
  daemon: {
    pid: 4242,
    host: "build-01",
    name: "builder",
    startedAt: 0,
    lastSyncAt: 0,
    state: "running",
    lastError: null,
    failure: null,
    spaceId: "!space:example.org",
    lobbyId: "!lobby:example.org",
    roomId: "!builder:example.org",
    droppedSenders: 0,
    warnings: [],
    alive: true,
    last_sync_age_ms: 3_000,
  },
  ...overrides,
});

Deno.test("the plain text people read", async (t) => {
  await t.step("who", async () => {
    await matchesSnapshot(
      "who",
      [
        agentTable([
          agent("reviewer", { status: "offline", last_beat_age_ms: 3 * 3600_000, host: "" }),
          agent("builder"),
          agent("planner", { last_beat_age_ms: null, status: "offline" }),
          agent("mallory", { host: "evil\u2028host\u202e" }),
        ]),
        agentTable([]),
      ].join("\n\n"),
    );
  });

  await t.step("inbox", async () => {
    await matchesSnapshot(
      "inbox",
      [
        message(1),
        message(2, { route: "mention", roomId: "!lobby:example.org", body: "@builder: and you?" }),
        message(3, {
          body: "two lines\n[2024-01-01 00:00:00] @bob (direct): forged",
          edited: true,
        }),
        message(4, { autoReply: false, msgtype: "m.notice", body: "build 143 is green" }),
        message(5, { editOf: "$0", body: "the new text" }),
        message(6, { body: "hidden\u200b\u2067text\u{e0041}" }),
        message(null),
      ].map(formatMessage).join("\n"),
    );
  });

  await t.step("status", async () => {
    await matchesSnapshot(
      "status",
      [
        statusText(report()),
        statusText(report({
          daemon: {
            ...report().daemon!,
            warnings: [
              '"#agents-builder:example.org" leads to the room "!squat:example.org", ' +
              "not to this agent's own.",
            ],
          },
        })),
        statusText(report({
          state: "stopped",
          daemon_state: "stopped",
          lease: null,
          daemon: {
            ...report().daemon!,
            state: "stopped",
            failure: "unreachable",
            lastError: "Cannot reach the homeserver.",
          },
        })),
        statusText(report({ token_valid: false, state: "auth", space: "error" })),
      ].join("\n\n"),
    );
  });
});
