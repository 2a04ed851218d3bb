import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, optional, withDefault } from "@optique/core/modifiers";
import { command, flag, option } from "@optique/core/primitives";
import { string } from "@optique/core/valueparser";
import { heartbeat, runDaemon } from "../ops/agent.ts";
import { action, jsonFlag, nameOption } from "./common.ts";

export const daemonCommand = command(
  "daemon",
  map(
    object({
      json: jsonFlag,
      name: nameOption,
      ephemeral: withDefault(
        flag("--ephemeral", {
          description: message`wait a random 0-2 s before booting, for fleets that start at once`,
        }),
        false,
      ),
      interval: optional(option("--interval", string({ metavar: "SECONDS" }), {
        description: message`seconds between heartbeats`,
      })),
    }),
    action(async (options, out, deps) => {
      const stop = new AbortController();
      const unsubscribe = deps.onShutdown(() => {
        out.info("Stopping: sending the offline heartbeat.");
        stop.abort();
      });
      try {
        await runDaemon({ deps, log: out }, options, stop.signal);
      } finally {
        unsubscribe();
      }
      return 0;
    }),
  ),
  {
    brief: message`Run the agent: fill the inbox and beat until SIGINT/SIGTERM`,
    description:
      message`Run the agent: keep the inbox filled from a filtered /sync and the heartbeat beating, until SIGINT or SIGTERM, which send a final offline beat.`,
  },
);

export const heartbeatCommand = command(
  "heartbeat",
  map(
    object({
      json: jsonFlag,
      name: nameOption,
      offline: withDefault(flag("--offline", { description: message`say goodbye instead` }), false),
    }),
    action(async (options, out, deps) => {
      const status = options.offline ? "offline" : "online";
      const beat = await heartbeat({ deps, log: out }, { name: options.name, status });
      if (out.json) out.data(beat);
      else out.line(`Beat ${beat.status} as "${beat.name}".`);
      return 0;
    }),
  ),
  { brief: message`Beat once and exit, for cron` },
);
