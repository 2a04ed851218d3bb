import { buildCommand } from "@stricli/core";
import { ExitCode, UsageError } from "../errors.ts";
import {
  ADMIN_TOKEN_ENV,
  provision,
  type ProvisionedAgent,
  revoke,
  SECRET_ENV,
} from "../ops/provision.ts";
import { action, type CliContext, homeserverFlag, jsonFlag } from "./common.ts";

interface ProvisionFlags {
  json: boolean;
  homeserver?: string;
  out?: string;
  reissue: boolean;
  "no-rate-limit": boolean;
  rooms: boolean;
  appservice: boolean;
  "appservice-url"?: string;
}

const outFlag = {
  kind: "parsed",
  parse: String,
  brief: "the directory of the agents' logins: DIR/NAME/cchat/credentials.json",
  optional: true,
  placeholder: "DIR",
} as const;

const switchFlag = (brief: string) =>
  ({ kind: "boolean", brief, default: false, withNegated: false }) as const;

/** One line per agent: what happened, and where its login is. */
function agentLine(agent: ProvisionedAgent): string {
  const parts = [agent.state.padEnd(8), agent.name, agent.user_id ?? "(user id unknown)"];
  if (agent.credentials) parts.push(agent.credentials);
  if (agent.room_id !== undefined) {
    parts.push(`room ${agent.room_id ?? "not registered: no token"}`);
  }
  if (agent.rate_limit) {
    parts.push(agent.rate_limit.lifted ? "rate limits lifted" : "rate limits kept");
  }
  return parts.join("  ");
}

export const provisionCommand = buildCommand<ProvisionFlags, string[], CliContext>({
  func: action(async ({ deps, out }, flags: ProvisionFlags, ...names: string[]) => {
    if (!flags.out && !out.json) {
      throw new UsageError("The new tokens need somewhere to go.", {
        hint: "Pass --out DIR to write one login per agent, or --json to print them.",
      });
    }
    const result = await provision({ deps, log: out }, {
      ...flags,
      noRateLimit: flags["no-rate-limit"],
      appserviceUrl: flags["appservice-url"],
      names,
    });
    const refused = result.agents.flatMap((agent) =>
      agent.rate_limit?.lifted === false ? [`${agent.name}: ${agent.rate_limit.error}`] : []
    );
    const notes = [
      result.appservice?.written
        ? `Wrote "${result.appservice.registration}": the homeserver acts on it once it is listed in app_service_config_files and the homeserver restarted.`
        : "",
      refused.length > 0
        ? `The homeserver kept the rate limits of ${refused.length} agent(s):\n${
          refused.join("\n")
        }`
        : "",
    ].filter(Boolean);
    return {
      data: result,
      text: result.agents.map(agentLine).join("\n"),
      ...(notes.length > 0 ? { note: notes.join("\n") } : {}),
      ...(refused.length > 0 ? { code: ExitCode.failure } : {}),
    };
  }),
  parameters: {
    positional: {
      kind: "array",
      parameter: { brief: "agent names, each one account", parse: String, placeholder: "NAME" },
    },
    flags: {
      json: {
        ...jsonFlag,
        brief: "print one JSON document on stdout; without --out it holds the new access tokens",
      },
      homeserver: { ...homeserverFlag, optional: true },
      out: outFlag,
      reissue: switchFlag(`issue a new token for an existing agent (needs ${ADMIN_TOKEN_ENV})`),
      "no-rate-limit": switchFlag(
        `lift the accounts' message rate limits (needs ${ADMIN_TOKEN_ENV})`,
      ),
      rooms: switchFlag("register each agent in the Space now, with its own token"),
      appservice: switchFlag(
        "make the accounts through the fleet's application service (writes DIR/appservice.yaml)",
      ),
      "appservice-url": {
        kind: "parsed",
        parse: String,
        brief: "where the homeserver reaches the service (with --appservice)",
        optional: true,
        placeholder: "URL",
      },
    },
  },
  docs: {
    brief: "Create agents' accounts and their logins (for operators)",
    fullDescription: [
      `Creates one account per agent name, with the homeserver's registration shared secret (${SECRET_ENV}, or the first line of stdin, never the command line) or a server admin's token (${ADMIN_TOKEN_ENV}).`,
      "With --out DIR each agent's login goes to DIR/NAME/cchat/credentials.json (mode 0600): hand out DIR/NAME and run the agent with XDG_CONFIG_HOME=DIR/NAME. With --json and no --out the new access tokens are printed on stdout.",
      "An agent that already exists is reported as existing and its token is not printed again; --reissue issues a new one through the admin token.",
      "With --appservice, DIR/appservice.yaml is written first (or extended with the new names, its tokens kept): the registration of the fleet's application service, for the homeserver's app_service_config_files. Once the homeserver has loaded it (a restart), the same command makes the accounts through the service's token, with no secret and no admin, and logs an existing one in again. Run the fleet with \"cchat daemon --agents DIR --appservice\".",
    ].join("\n\n"),
  },
});

interface RevokeFlags {
  json: boolean;
  homeserver?: string;
  out?: string;
}

export const revokeCommand = buildCommand<RevokeFlags, [string], CliContext>({
  func: action(async ({ deps, out }, flags: RevokeFlags, name: string) => {
    const result = await revoke({ deps, log: out }, { ...flags, name });
    const said = [
      result.stored_login_revoked ? `logged out the login in ${result.credentials_removed}` : "",
      result.devices_deleted === null ? "" : `deleted ${result.devices_deleted} device(s)`,
    ].filter(Boolean);
    return { data: result, text: `Revoked ${result.user_id}: ${said.join(", ")}.` };
  }),
  parameters: {
    positional: {
      kind: "tuple",
      parameters: [{ brief: "the agent's name", parse: String, placeholder: "NAME" }],
    },
    flags: {
      json: jsonFlag,
      homeserver: { ...homeserverFlag, optional: true },
      out: { ...outFlag, brief: "the directory provision wrote the agent's login to" },
    },
  },
  docs: {
    brief: "End an agent's sessions (for operators)",
    fullDescription:
      `Logs out the login provision stored in --out DIR and removes its file, and with ${ADMIN_TOKEN_ENV} deletes every device of the account, which ends its other logins.`,
  },
});
