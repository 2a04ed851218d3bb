import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, withDefault } from "@optique/core/modifiers";
import { command, flag } from "@optique/core/primitives";
import { who } from "../ops/who.ts";
import { action, jsonFlag } from "./common.ts";
import { agentTable } from "./text.ts";

export const whoCommand = command(
  "who",
  map(
    object({
      json: jsonFlag,
      all: withDefault(
        flag("--all", { description: message`include agents silent for more than a day` }),
        false,
      ),
    }),
    action(async (options, out, deps) => {
      const listing = await who({ deps, log: out }, options);
      if (out.json) out.data(listing);
      else out.line(agentTable(listing.agents));
      return 0;
    }),
  ),
  { brief: message`List the agents and whether each is online` },
);
