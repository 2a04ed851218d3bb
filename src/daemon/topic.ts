/**
 * The agent room's topic tells people in Element when the agent last started
 * or stopped ("started on build-01 at 2026-12-01 10:20 UTC"). It states only
 * what stays true: a process killed with -9 writes no topic, so a topic that
 * said "online" would say it for good. Whether the agent runs now is its
 * presence, which the homeserver itself ends when the sync loop is gone, and
 * `cchat who`. Every change is a timeline event, so it changes with the
 * status, never with each beat.
 */
import type { MatrixClient } from "../matrix/client.ts";
import type { AgentStatus } from "../space/agents.ts";

const OPENING: Record<AgentStatus, string> = { online: "started on ", offline: "stopped at " };

/** The topic for `status` on `host`, from `since` (ms since the epoch) on. */
export function statusTopic(status: AgentStatus, host: string, since: number): string {
  const at = new Date(since).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  return status === "online"
    ? `${OPENING.online}${host} at ${at}; its presence shows whether it still runs`
    : `${OPENING.offline}${at}`;
}

export class StatusTopic {
  constructor(
    private readonly client: MatrixClient,
    private readonly host: string,
    private readonly now: () => number,
  ) {}

  /** Says `status` from now on: for a change the caller knows of, such as a daemon's start. */
  async set(roomId: string, status: AgentStatus): Promise<void> {
    await this.client.putState(roomId, "m.room.topic", "", {
      topic: statusTopic(status, this.host, this.now()),
    });
  }

  /** Says `status` unless the room already does: for beats that know nothing of the last one. */
  async keep(roomId: string, status: AgentStatus): Promise<void> {
    const { topic } = await this.client.getStateEvent(roomId, "m.room.topic").then(
      (event) => event.content as { topic?: unknown },
      () => ({ topic: undefined }),
    );
    if (typeof topic === "string" && topic.startsWith(OPENING[status])) return;
    await this.set(roomId, status);
  }
}
