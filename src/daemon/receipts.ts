/** Posting the read receipts readers left in the store, which only the daemon may do. */
import { isRefusal } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { MatrixClient } from "../matrix/client.ts";
import type { Store } from "../store/store.ts";

/**
 * One request per room with a pending receipt. A receipt the server refuses
 * for good (4xx: the room or event is gone to us) is dropped; any other
 * failure leaves it pending for the next call, so it never stops the sync loop.
 */
export async function flushReceipts(
  client: MatrixClient,
  store: Store,
  log: Pick<Logger, "debug">,
): Promise<void> {
  for (const receipt of await store.pendingReceipts()) {
    try {
      await client.sendReceipt(receipt.roomId, receipt.eventId);
    } catch (err) {
      const refused = isRefusal(err);
      log.debug(
        `The read receipt for "${receipt.eventId}" in "${receipt.roomId}" failed (${
          (err as Error).message
        }); ${refused ? "dropped" : "kept for the next sync"}.`,
      );
      if (!refused) continue;
    }
    await store.settleReceipt(receipt);
  }
}
