import { object } from "@optique/core/constructs";
import { message } from "@optique/core/message";
import { map, optional, withDefault } from "@optique/core/modifiers";
import { command, flag, option } from "@optique/core/primitives";
import { string } from "@optique/core/valueparser";
import { login, logout } from "../ops/account.ts";
import { action, jsonFlag } from "./common.ts";

export const loginCommand = command(
  "login",
  map(
    object({
      json: jsonFlag,
      homeserver: optional(option("--homeserver", string({ metavar: "URL" }), {
        description: message`the homeserver's base URL`,
      })),
      user: optional(option("--user", string({ metavar: "NAME" }), {
        description: message`the user name or Matrix id`,
      })),
      token: withDefault(
        flag("--token", {
          description: message`store an existing access token from CCHAT_ACCESS_TOKEN or stdin`,
        }),
        false,
      ),
      force: withDefault(
        flag("--force", { description: message`log in again even when a login is stored` }),
        false,
      ),
    }),
    action(async (options, out, deps) => {
      const account = await login({ deps, log: out }, options);
      if (out.json) out.data(account);
      else {
        out.line(
          `${
            account.already_logged_in ? "Already logged in" : "Logged in"
          } as ${account.user_id} on ${account.homeserver}.`,
        );
      }
      return 0;
    }),
  ),
  {
    brief: message`Log in once and store the token`,
    description:
      message`Log in once and store the token (mode 0600). The password comes from CCHAT_PASSWORD or the first line of stdin, never from the command line.`,
  },
);

export const logoutCommand = command(
  "logout",
  map(
    object({ json: jsonFlag }),
    action(async (_options, out, deps) => {
      const result = await logout({ deps, log: out });
      if (out.json) out.data(result);
      else out.line(result.logged_out ? `Logged out ${result.user_id}.` : "Not logged in.");
      return 0;
    }),
  ),
  { brief: message`End the session on the server and forget the stored token` },
);
