/**
 * A message taken from the inbox by a tool call is read only once the call's
 * answer is written to the client. A call that is cancelled, whose client
 * stops listening, or whose answer cannot be written puts its messages back,
 * unread, for the next reader: no message goes to nobody.
 */
import type {
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { Taken } from "../ops/taken.ts";

type Settle = (delivered: boolean) => void;

export class Deliveries {
  readonly #pending = new Map<RequestId, Settle>();
  readonly #settling = new Set<Promise<void>>();
  readonly #warn: (message: string) => void;

  constructor(warn: (message: string) => void) {
    this.#warn = warn;
  }

  /**
   * Holds `taken` until the answer to `requestId` is written (delivered), or
   * `signal` ends the call first (not delivered). Returns the value to answer with.
   */
  expect<T>(requestId: RequestId, taken: Taken<T>, signal: AbortSignal): T {
    let done = false;
    const settle: Settle = (delivered) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      this.#pending.delete(requestId);
      const settling = taken.settle(delivered)
        .catch((err: Error) => this.#warn(`A taken message could not be settled: ${err.message}`))
        .finally(() => this.#settling.delete(settling));
      this.#settling.add(settling);
    };
    const onAbort = () => settle(false);
    this.#pending.set(requestId, settle);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return taken.value;
  }

  /** `transport`, whose answers settle the calls waiting on them. */
  watch(transport: Transport): Transport {
    const send = transport.send.bind(transport);
    transport.send = async (message: JSONRPCMessage, options?: TransportSendOptions) => {
      const id = "id" in message && ("result" in message || "error" in message)
        ? message.id
        : undefined;
      const settle = id === undefined ? undefined : this.#pending.get(id);
      if (!settle) return await send(message, options);
      try {
        await send(message, options);
      } catch (err) {
        settle(false);
        throw err;
      }
      settle(true);
    };
    return transport;
  }

  /** Resolves once every call still waiting is settled, the server having closed. */
  async settled(): Promise<void> {
    for (const settle of [...this.#pending.values()]) settle(false);
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
  }
}
