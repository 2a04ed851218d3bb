import type { MatrixClient } from "../matrix/client.ts";
import { type AgentStatus, heartbeatContent } from "../space/agents.ts";
import { EVENT_HEARTBEAT } from "../space/names.ts";

export interface HeartbeatIdentity {
  userId: string;
  name: string;
  host: string;
  version: string;
  intervalMs: number;
}

/** Writes the agent's heartbeat state; every beat carries a new `seq` so the server never drops it. */
export class HeartbeatWriter {
  #seq = 0;

  constructor(
    private readonly client: MatrixClient,
    private readonly identity: HeartbeatIdentity,
    private readonly now: () => number,
  ) {}

  async beat(roomIds: string[], status: AgentStatus): Promise<void> {
    // The clock keeps seq growing across restarts; +1 keeps it growing within one millisecond.
    this.#seq = Math.max(this.#seq + 1, this.now());
    const { userId, name, host, version, intervalMs } = this.identity;
    const content = heartbeatContent({ name, status, seq: this.#seq, intervalMs, host, version });
    await Promise.all(
      roomIds.map((roomId) => this.client.putState(roomId, EVENT_HEARTBEAT, userId, content)),
    );
  }
}
