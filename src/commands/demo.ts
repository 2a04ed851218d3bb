import { buildCommand } from "@stricli/core";
import { demo, DEMO_HUMAN, DEMO_PASSWORD } from "../ops/demo.ts";
import { action, type CliContext, homeserverFlag, jsonFlag } from "./common.ts";
import { agentTable } from "./text.ts";

interface Flags {
  json: boolean;
  homeserver: string;
  prefix?: string;
}

export const demoCommand = buildCommand<Flags, [], CliContext>({
  func: action(async ({ deps, out }, flags: Flags) => {
    const tour = await demo({ deps, log: out }, {
      homeserver: flags.homeserver,
      registrationSecret: deps.env("CCHAT_REGISTRATION_SECRET") ?? "",
      prefix: flags.prefix,
      narrate: (step) => {
        if (out.json) return;
        out.line("text" in step ? step.text : agentTable(step.agents) + "\n");
      },
    });
    const text = [
      `In Element: sign in to ${tour.homeserver} as "${DEMO_HUMAN}" with the password "${DEMO_PASSWORD}",`,
      `join "${tour.space_alias}", and open the agents' rooms from the Space.`,
      `As an agent yourself: "cchat login", then "cchat daemon", "cchat send", "cchat who" (see README).`,
    ].join("\n");
    return { data: tour, text };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      homeserver: homeserverFlag,
      prefix: {
        kind: "parsed",
        parse: String,
        brief: "alias prefix of the Space and rooms",
        optional: true,
        placeholder: "PREFIX",
      },
    },
  },
  docs: {
    brief: "Tour cchat on a homeserver that allows shared-secret registration",
    fullDescription:
      "The guided tour: registers three agents and a human, builds the Space, beats heartbeats and exchanges messages. Needs the server's registration shared secret in CCHAT_REGISTRATION_SECRET.",
  },
});
