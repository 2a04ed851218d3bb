import { buildCommand } from "@stricli/core";
import { delivery, type DeliveryWait, NotYetError } from "../ops/delivery.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { awaitFlag } from "./send.ts";

interface DeliveryFlags {
  json: boolean;
  await?: DeliveryWait;
}

export const deliveryCommand = buildCommand<DeliveryFlags, [string], CliContext>({
  func: action(async ({ deps, out }, flags: DeliveryFlags, eventId: string) => {
    try {
      const result = await delivery({ deps, log: out }, { eventId, await: flags.await });
      const readers = result.read_by.length ? `; read by ${result.read_by.join(", ")}` : "";
      const answers = result.answered_by.length
        ? `; answered by ${[...new Set(result.answered_by.map((a) => a.sender))].join(", ")}`
        : "";
      return { data: result, text: `${result.state}${readers}${answers}` };
    } catch (err) {
      if (!(err instanceof NotYetError)) throw err;
      return { data: err.result, text: err.result.state, note: err.message, code: err.exitCode };
    }
  }),
  parameters: {
    flags: { json: jsonFlag, await: awaitFlag },
    positional: {
      kind: "tuple",
      parameters: [{
        brief: "the event id send printed",
        parse: String,
        placeholder: "EVENT_ID",
      }],
    },
  },
  docs: {
    brief: "Say how far a message this agent sent got: sent, read, answered",
    fullDescription:
      "Prints sent, read (its recipient's reader took it and left a read receipt; for the " +
      "lobby, anyone's) or answered (a reply to it, or a message in its thread), and who read " +
      "and answered it. --await waits for a state first and exits 7 when it does not come in time.",
  },
});
