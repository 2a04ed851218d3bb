import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, optional } from "@optique/core/modifiers";
import { command, option } from "@optique/core/primitives";
import { float } from "@optique/core/valueparser";
import { ExitCode } from "../errors.ts";
import { wait } from "../ops/inbox.ts";
import { action, jsonFlag } from "./common.ts";
import { formatMessage } from "./text.ts";

export const waitCommand = command(
  "wait",
  map(
    object({
      json: jsonFlag,
      timeout: optional(option("--timeout", float({ metavar: "SECONDS" }), {
        description: message`give up after this long (exit 7)`,
      })),
    }),
    action(async (options, out, deps) => {
      const timeoutMs = options.timeout === undefined ? undefined : options.timeout * 1000;
      const received = await wait({ deps, log: out }, { timeoutMs });
      if (received === null) {
        out.info(`No message within ${options.timeout} s.`);
        return ExitCode.timeout;
      }
      if (out.json) out.data(received);
      else out.line(formatMessage(received));
      return 0;
    }),
  ),
  { brief: message`Block until a message arrives, print it and mark it read` },
);
