import { buildCommand } from "@stricli/core";
import { who } from "../ops/who.ts";
import { action, type CliContext, jsonFlag } from "./common.ts";
import { agentTable } from "./text.ts";

interface Flags {
  json: boolean;
  all: boolean;
}

export const whoCommand = buildCommand<Flags, [], CliContext>({
  func: action(async ({ deps, out }, flags: Flags) => {
    const listing = await who({ deps, log: out }, flags);
    return { data: listing, text: agentTable(listing.agents) };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      all: {
        kind: "boolean",
        brief: "include agents silent for more than a day",
        default: false,
        withNegated: false,
      },
    },
  },
  docs: { brief: "List the agents and whether each is online" },
});
