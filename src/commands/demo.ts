import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, optional } from "@optique/core/modifiers";
import { command, option } from "@optique/core/primitives";
import { string } from "@optique/core/valueparser";
import { demo, DEMO_HUMAN, DEMO_PASSWORD } from "../ops/demo.ts";
import { action, jsonFlag } from "./common.ts";
import { agentTable } from "./text.ts";

export const demoCommand = command(
  "demo",
  map(
    object({
      json: jsonFlag,
      homeserver: option("--homeserver", string({ metavar: "URL" }), {
        description: message`the homeserver's base URL`,
      }),
      prefix: optional(option("--prefix", string({ metavar: "PREFIX" }), {
        description: message`alias prefix of the Space and rooms`,
      })),
    }),
    action(async (options, out, deps) => {
      const tour = await demo({ deps, log: out }, {
        homeserver: options.homeserver,
        registrationSecret: deps.env("CCHAT_REGISTRATION_SECRET") ?? "",
        prefix: options.prefix,
        narrate: (step) => {
          if (out.json) return;
          out.line("text" in step ? step.text : agentTable(step.agents) + "\n");
        },
      });
      if (out.json) {
        out.data(tour);
        return 0;
      }
      out.line(
        `In Element: sign in to ${tour.homeserver} as "${DEMO_HUMAN}" with the password "${DEMO_PASSWORD}",`,
      );
      out.line(`join "${tour.space_alias}", and open the agents' rooms from the Space.`);
      out.line(
        `As an agent yourself: "cchat login", then "cchat daemon", "cchat send", "cchat who" (see README).`,
      );
      return 0;
    }),
  ),
  {
    brief: message`Tour cchat on a homeserver that allows shared-secret registration`,
    description:
      message`The guided tour: registers three agents and a human, builds the Space, beats heartbeats and exchanges messages. Needs the server's registration shared secret in CCHAT_REGISTRATION_SECRET.`,
  },
);
