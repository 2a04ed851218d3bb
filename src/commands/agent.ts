import { buildCommand } from "@stricli/core";
import { heartbeat, runDaemon, runFleet } from "../ops/agent.ts";
import { UsageError } from "../errors.ts";
import { action, type CliContext, jsonFlag, nameFlag } from "./common.ts";

interface DaemonFlags {
  json: boolean;
  name?: string;
  ephemeral: boolean;
  interval?: string;
  agents?: string;
  appservice: boolean;
}

export const daemonCommand = buildCommand<DaemonFlags, [], CliContext>({
  func: action(async ({ deps, out }, flags: DaemonFlags) => {
    const stop = new AbortController();
    const unsubscribe = deps.onShutdown(() => {
      out.info("Stopping: sending the offline heartbeat.");
      stop.abort();
    });
    try {
      const { agents } = flags;
      if (flags.appservice && agents === undefined) {
        throw new UsageError("--appservice needs --agents DIR.", {
          hint: "An application service hosts a fleet: the agents of a provision directory.",
        });
      }
      await (agents === undefined
        ? runDaemon({ deps, log: out }, flags, stop.signal)
        : runFleet({ deps, log: out }, { ...flags, agents }, stop.signal));
    } finally {
      unsubscribe();
    }
    return {};
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      name: nameFlag,
      ephemeral: {
        kind: "boolean",
        brief: "wait a random 0-2 s before booting, for fleets that start at once",
        default: false,
        withNegated: false,
      },
      interval: {
        kind: "parsed",
        parse: String,
        brief: "seconds between heartbeats",
        optional: true,
        placeholder: "SECONDS",
      },
      agents: {
        kind: "parsed",
        parse: String,
        brief: "run every agent of the provision directory DIR (DIR/NAME/cchat) in this process",
        optional: true,
        placeholder: "DIR",
      },
      appservice: {
        kind: "boolean",
        brief:
          "with --agents: take the fleet's events as the application service of DIR/appservice.yaml",
        default: false,
        withNegated: false,
      },
    },
  },
  docs: {
    brief: "Run the agent: fill the inbox and beat until SIGINT/SIGTERM",
    fullDescription:
      "Runs the agent: keeps the inbox filled from a filtered /sync and the heartbeat beating until SIGINT or SIGTERM, which send a final offline beat. One daemon runs per account: a second exits 9, naming the first. With --agents DIR, one process runs every agent of a provision directory over one data directory; an agent that fails stops alone, and the process exits once all have stopped. With --appservice as well, the process is the fleet's Matrix application service: it listens at the url of DIR/appservice.yaml, the homeserver pushes it the fleet's events, no agent holds a /sync, and the agents act through the service's token.",
  },
});

interface HeartbeatFlags {
  json: boolean;
  name?: string;
  offline: boolean;
}

export const heartbeatCommand = buildCommand<HeartbeatFlags, [], CliContext>({
  func: action(async ({ deps, out }, flags: HeartbeatFlags) => {
    const status = flags.offline ? "offline" : "online";
    const beat = await heartbeat({ deps, log: out }, { name: flags.name, status });
    return { data: beat, text: `Beat ${beat.status} as "${beat.name}".` };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      name: nameFlag,
      offline: {
        kind: "boolean",
        brief: "say goodbye instead",
        default: false,
        withNegated: false,
      },
    },
  },
  docs: { brief: "Beat once and exit, for cron" },
});
