import { buildCommand } from "@stricli/core";
import { login, logout } from "../ops/account.ts";
import { action, type CliContext, homeserverFlag, jsonFlag } from "./common.ts";

interface LoginFlags {
  json: boolean;
  homeserver?: string;
  user?: string;
  token: boolean;
  force: boolean;
}

export const loginCommand = buildCommand<LoginFlags, [], CliContext>({
  func: action(async ({ deps, out }, flags: LoginFlags) => {
    const account = await login({ deps, log: out }, flags);
    const already = account.already_logged_in ? "Already logged in" : "Logged in";
    return { data: account, text: `${already} as ${account.user_id} on ${account.homeserver}.` };
  }),
  parameters: {
    flags: {
      json: jsonFlag,
      homeserver: { ...homeserverFlag, optional: true },
      user: {
        kind: "parsed",
        parse: String,
        brief: "the user name or Matrix id",
        optional: true,
        placeholder: "NAME",
      },
      token: {
        kind: "boolean",
        brief: "store an existing access token from CCHAT_ACCESS_TOKEN or stdin",
        default: false,
        withNegated: false,
      },
      force: {
        kind: "boolean",
        brief: "log in again even when a login is stored",
        default: false,
        withNegated: false,
      },
    },
  },
  docs: {
    brief: "Log in once and store the token",
    fullDescription:
      "Logs in once and stores the token (mode 0600). The password comes from CCHAT_PASSWORD or the first line of stdin, never from the command line.",
  },
});

export const logoutCommand = buildCommand<{ json: boolean }, [], CliContext>({
  func: action(async ({ deps, out }) => {
    const result = await logout({ deps, log: out });
    return {
      data: result,
      text: result.logged_out ? `Logged out ${result.user_id}.` : "Not logged in.",
    };
  }),
  parameters: { flags: { json: jsonFlag } },
  docs: { brief: "End the session on the server and forget the stored token" },
});
