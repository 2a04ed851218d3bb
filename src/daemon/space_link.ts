/** The agent's link in the Space, put back when another member removed it. */
import type { Logger } from "../log.ts";
import { keepSpaceChild } from "../space/directory.ts";
import type { SpaceEnv } from "../space/env.ts";
import type { Membership } from "../space/registration.ts";

/**
 * Beats between two looks at the link. Any member may remove it (power 0),
 * and `who` lists no agent without one; looking every fifth beat mends that
 * within minutes at a fifth of the reads.
 */
export const LINK_CHECK_EVERY = 5;

export class SpaceLink {
  #beats = 0;

  constructor(
    private readonly space: SpaceEnv,
    private readonly membership: Membership,
    private readonly log: Logger,
  ) {}

  /** Counts a beat, and every LINK_CHECK_EVERY-th one looks at the link and restores it if gone. */
  async keep(): Promise<void> {
    const spaceId = this.membership.directory.spaceId;
    const roomId = this.membership.roomId;
    if (spaceId === null || roomId === null) return;
    if (++this.#beats % LINK_CHECK_EVERY !== 0) return;
    try {
      if (await keepSpaceChild(this.space, spaceId, roomId)) {
        this.log.warn("The agent's link in the Space had been removed; it is restored.");
      }
    } catch (err) {
      // The next look may well succeed; the heartbeat goes on meanwhile.
      this.log.warn(`Checking the agent's link in the Space failed: ${(err as Error).message}`);
    }
  }
}
