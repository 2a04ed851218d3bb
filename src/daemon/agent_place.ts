/**
 * The agent's place: its link in the Space, put back when another member
 * removed it, and its membership of its own room, reported when lost.
 */
import { hasStatus } from "../errors.ts";
import type { Logger } from "../log.ts";
import { keepSpaceChild } from "../space/directory.ts";
import type { SpaceEnv } from "../space/env.ts";
import type { Membership } from "../space/registration.ts";

/**
 * Beats between two looks. Any member may remove the link (power 0), and
 * `who` lists no agent without one; looking every fifth beat mends that
 * within minutes at a fifth of the reads.
 */
export const LINK_CHECK_EVERY = 5;

export class AgentPlace {
  #beats = 0;
  #left = false;

  constructor(
    private readonly space: SpaceEnv,
    private readonly membership: Membership,
    private readonly log: Logger,
    /** Told once when the agent is found out of its own room. */
    private readonly onLeft: (warning: string) => Promise<void>,
  ) {}

  /** Counts a beat, and every LINK_CHECK_EVERY-th one looks at the agent's place. */
  async keep(): Promise<void> {
    const spaceId = this.membership.directory.spaceId;
    const roomId = this.membership.roomId;
    if (spaceId === null || roomId === null) return;
    if (++this.#beats % LINK_CHECK_EVERY !== 0) return;
    try {
      const [relinked] = await Promise.all([
        keepSpaceChild(this.space, spaceId, roomId),
        this.#lookInRoom(roomId),
      ]);
      if (relinked) {
        this.log.warn("The agent's link in the Space had been removed; it is restored.");
      }
    } catch (err) {
      // The next look may well succeed; the heartbeat goes on meanwhile.
      this.log.warn(`Checking the agent's place in the Space failed: ${(err as Error).message}`);
    }
  }

  /**
   * Nobody but a server admin, or the agent's own account from another
   * client, can take the agent out of a room it made, and the sync filter
   * keeps such news out, so the agent looks: worth a line and a word in
   * `status` when it is out. It finds its room again when it next boots.
   */
  async #lookInRoom(roomId: string): Promise<void> {
    if (this.#left) return;
    const { client, userId } = this.space;
    const membership = await client.getStateEvent(roomId, "m.room.member", userId).then(
      (event) => event.content?.membership,
      (err) => {
        // A room the agent is out of refuses to show it anything.
        if (hasStatus(err, 403, 404)) return "out";
        throw err;
      },
    );
    if (membership === "join") return;
    this.#left = true;
    const warning = `The agent is no longer in its own room "${roomId}"; restart it to rejoin.`;
    this.log.warn(warning);
    await this.onLeft(warning);
  }
}
