/**
 * The operator's side of a fleet: one Matrix account per agent, made with the
 * homeserver's registration shared secret, an admin token or the fleet's
 * application service, and the stored logins handed out as files; and
 * revoking an agent's sessions again.
 */
import { type Config, loadConfig } from "../config.ts";
import {
  checkCredentialsWritable,
  type Credentials,
  credentialsPath,
  deleteCredentials,
  readCredentials,
  writeCredentials,
} from "../credentials.ts";
import { dequal } from "dequal";
import {
  newRegistration,
  readRegistration,
  registrationPath,
  withNames,
  writeRegistration,
} from "./registration_file.ts";
import { escapeRegex } from "../matrix/appservice.ts";
import { DEFAULT_APPSERVICE_URL } from "../defaults.ts";
import { randomHex } from "../encoding.ts";
import { CchatError, ExitCode, hasStatus, MatrixError, UsageError } from "../errors.ts";
import {
  createUser,
  deleteDevices,
  loginAsUser,
  registerWithSharedSecret,
  setRateLimitOverride,
  userDevices,
  userExists,
} from "../matrix/admin.ts";
import { MatrixClient } from "../matrix/client.ts";
import type { MatrixHttp } from "../matrix/http.ts";
import { serverOfUserId } from "../matrix/ids.ts";
import { spaceEnv } from "../space/env.ts";
import { validateAgentName } from "../space/names.ts";
import { enter } from "../space/registration.ts";
import { VERSION } from "../version.ts";
import { readSecret } from "./input.ts";
import { transport } from "./session.ts";
import { type OpContext, requireHomeserver } from "./local.ts";

export const SECRET_ENV = "CCHAT_REGISTRATION_SECRET";
export const ADMIN_TOKEN_ENV = "CCHAT_ADMIN_TOKEN";

/**
 * Where an agent's login goes under the operator's directory: the `cchat`
 * config directory of XDG_CONFIG_HOME=OUT/NAME, so the folder OUT/NAME is what
 * the operator hands out.
 */
export const agentConfigDir = (out: string, name: string) => `${out}/${name}/cchat`;

export interface ProvisionOptions {
  names: string[];
  homeserver?: string;
  /** The directory that receives one login per agent; without it the tokens are returned. */
  out?: string;
  /** Issue a new token for an agent that already exists (needs the admin token). */
  reissue?: boolean;
  /** Lift the accounts' own message rate limits (needs the admin token). */
  noRateLimit?: boolean;
  /** Register each agent in the Space now, with its own new token. */
  rooms?: boolean;
  /**
   * Make the accounts as users of the fleet's application service, whose
   * registration `DIR/appservice.yaml` is written (or extended) first.
   */
  appservice?: boolean;
  /** Where the homeserver pushes to the service (`cchat daemon --agents DIR --appservice` listens there). */
  appserviceUrl?: string;
}

export interface ProvisionedAgent {
  name: string;
  /** Null only for an existing agent met with the shared secret alone, which cannot ask. */
  user_id: string | null;
  state: "created" | "existing" | "reissued";
  /** Only a new token, and only when no directory holds it. */
  access_token?: string;
  device_id: string | null;
  /** The stored login written or found, under the directory. */
  credentials: string | null;
  /** With --rooms: the agent's room, or null when there is no token to register with. */
  room_id?: string | null;
  /** With --no-rate-limit: whether the server lifted the limits, and why not. */
  rate_limit?: { lifted: true } | { lifted: false; error: string };
}

export interface ProvisionResult {
  homeserver: string;
  out: string | null;
  agents: ProvisionedAgent[];
  /** With --appservice: the registration, and whether this run wrote it (the homeserver must load it again). */
  appservice?: { registration: string; written: boolean };
}

/** How accounts are made: with the shared secret, as an admin, or as the fleet's application service. */
type Maker =
  | { kind: "secret"; secret: string }
  | { kind: "admin" }
  | { kind: "appservice"; service: MatrixHttp; registration: string; written: boolean };

interface Account {
  userId: string | null;
  login?: Pick<Credentials, "userId" | "accessToken" | "deviceId">;
  /** The login is a new one of an account that existed. */
  existed?: boolean;
}

/**
 * Creates the agents' accounts, or reports them as existing; running it again
 * changes nothing and prints no token unless `reissue`.
 */
export async function provision(
  ctx: OpContext,
  options: ProvisionOptions,
): Promise<ProvisionResult> {
  const { deps } = ctx;
  if (options.names.length === 0) {
    throw new UsageError("No agent names were given.", {
      hint: 'Run "cchat provision NAME..." with one name per agent.',
    });
  }
  const names = [...new Set(options.names.map(validateAgentName))];
  const config = await loadConfig(deps, { homeserver: options.homeserver });
  const homeserver = await homeserverOf(config);
  const adminToken = deps.env(ADMIN_TOKEN_ENV);
  const wantsAdmin: [string, boolean | undefined][] = [["--no-rate-limit", options.noRateLimit]];
  // The service logs its users in again itself; the shared secret cannot.
  if (!options.appservice) wantsAdmin.push(["--reissue", options.reissue]);
  for (const [flag, wanted] of wantsAdmin) {
    if (wanted && !adminToken) {
      throw new UsageError(`${flag} needs a server admin's access token.`, {
        hint:
          `Set ${ADMIN_TOKEN_ENV}; the registration shared secret cannot act on existing accounts.`,
      });
    }
  }
  const anonymous = transport(ctx, config, homeserver);
  const maker = options.appservice
    ? await serviceMaker(anonymous, options, names, config.aliasPrefix)
    : await accountMaker(deps, adminToken);
  const admin = adminToken === undefined ? undefined : anonymous.withToken(adminToken);
  const serverName = admin ? await adminServer(admin, homeserver) : undefined;

  const make = async (name: string): Promise<Account> => {
    if (maker.kind === "appservice") return await asService(maker, name);
    if (maker.kind === "secret") {
      try {
        const login = await registerWithSharedSecret(anonymous, maker.secret, {
          // Never kept: the account is reached through its token, and reissued by an admin.
          username: name,
          password: randomHex(24),
        });
        return { userId: login.userId, login };
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === "M_USER_IN_USE") {
          return { userId: serverName ? `@${name}:${serverName}` : null };
        }
        if (hasStatus(err, 403)) {
          throw new CchatError(`The homeserver "${homeserver}" refused the registration secret.`, {
            hint:
              `Check ${SECRET_ENV} against registration_shared_secret in the homeserver's config.`,
            exitCode: ExitCode.auth,
            cause: err,
          });
        }
        throw err;
      }
    }
    const userId = `@${name}:${serverName}`;
    if (await asAdmin(() => userExists(admin!, userId))) return { userId };
    await asAdmin(() => createUser(admin!, userId));
    return {
      userId,
      login: { userId, accessToken: await asAdmin(() => loginAsUser(admin!, userId)) },
    };
  };

  const one = async (name: string): Promise<ProvisionedAgent> => {
    const configDir = options.out === undefined ? undefined : agentConfigDir(options.out, name);
    const stored = configDir ? await readCredentials(configDir) : undefined;
    let state: ProvisionedAgent["state"] = "existing";
    let account: Account = { userId: stored?.userId ?? null };
    if (!stored || options.reissue) {
      account = await make(name);
      if (account.login) state = account.existed ? "reissued" : "created";
      else if (options.reissue) {
        const userId = account.userId!;
        const accessToken = await asAdmin(() => loginAsUser(admin!, userId));
        account = { userId, login: { userId, accessToken } };
        state = "reissued";
      }
    }
    const { login } = account;
    if (login && configDir) await writeCredentials(configDir, { homeserver, ...login });
    const agent: ProvisionedAgent = {
      name,
      user_id: account.userId,
      state,
      ...(login && !configDir ? { access_token: login.accessToken } : {}),
      device_id: (login ?? stored)?.deviceId ?? null,
      credentials: configDir && (login || stored) ? credentialsPath(configDir) : null,
    };
    if (options.noRateLimit) agent.rate_limit = await liftRateLimit(admin!, account.userId!);
    if (options.rooms) {
      const token = login ?? stored;
      agent.room_id = token
        ? await registerRoom(
          ctx,
          config,
          anonymous.withToken(token.accessToken),
          name,
          token.userId,
        )
        : null;
    }
    return agent;
  };

  // Every login can be stored before any account is made: none is left with its token lost.
  if (options.out !== undefined) {
    for (const name of names) await checkCredentialsWritable(agentConfigDir(options.out, name));
  }
  const agents: ProvisionedAgent[] = [];
  // One at a time: a fleet's accounts are made once, and the server's limits stay unprovoked.
  for (const name of names) {
    try {
      agents.push(await one(name));
    } catch (err) {
      throw stoppedAt(name, names, agents, err);
    }
  }
  return {
    homeserver,
    out: options.out ?? null,
    agents,
    ...(maker.kind === "appservice"
      ? { appservice: { registration: maker.registration, written: maker.written } }
      : {}),
  };
}

/** The shared secret, preferred, or the admin token. */
async function accountMaker(deps: OpContext["deps"], adminToken?: string): Promise<Maker> {
  // The secret is preferred: its tokens have devices, so revoking the devices ends them.
  const secret = adminToken !== undefined && deps.env(SECRET_ENV) === undefined
    ? undefined
    : await readSecret(deps, SECRET_ENV);
  if (secret === "") {
    throw new UsageError("No registration shared secret or admin token was given.", {
      hint:
        `Set ${SECRET_ENV} (or pipe the secret into "cchat provision"), or set ${ADMIN_TOKEN_ENV}.`,
    });
  }
  return secret === undefined ? { kind: "admin" } : { kind: "secret", secret };
}

/**
 * The fleet's registration in `--out`, written first or extended to `names`
 * (its tokens kept), and the service's token to make the accounts with.
 */
async function serviceMaker(
  anonymous: MatrixHttp,
  options: ProvisionOptions,
  names: string[],
  aliasPrefix: string,
): Promise<Maker> {
  const { out } = options;
  if (out === undefined) {
    throw new UsageError("--appservice needs --out DIR.", {
      hint:
        "The registration goes to DIR/appservice.yaml, beside the agents' logins the fleet daemon runs.",
    });
  }
  const found = await readRegistration(out);
  const url = options.appserviceUrl ?? found?.url ?? DEFAULT_APPSERVICE_URL;
  // The daemon serves plain HTTP there: a TLS front is the operator's, before it.
  if (!/^http:\/\/[^/]+\/?$/.test(url)) {
    throw new UsageError(`The application service URL "${url}" is not an http origin.`, {
      hint: `Give http://, a host and a port only, for example "${DEFAULT_APPSERVICE_URL}".`,
    });
  }
  // The aliases are named once, when the file is first written, from the prefix configured then.
  const registration = found
    ? withNames({ ...found, url }, names)
    : newRegistration(url, names, escapeRegex(aliasPrefix));
  const written = !dequal(found, registration);
  if (written) await writeRegistration(out, registration);
  return {
    kind: "appservice",
    service: anonymous.withToken(registration.as_token),
    registration: registrationPath(out),
    written,
  };
}

/** Makes the account as a user of the service, or logs the existing one in again. */
async function asService(
  maker: Extract<Maker, { kind: "appservice" }>,
  name: string,
): Promise<Account> {
  try {
    try {
      const login = await MatrixClient.registerServiceUser(maker.service, name);
      return { userId: login.userId, login };
    } catch (err) {
      if (!(err instanceof MatrixError && err.errcode === "M_USER_IN_USE")) throw err;
      const login = await MatrixClient.loginServiceUser(maker.service, name);
      return { userId: login.userId, login, existed: true };
    }
  } catch (err) {
    if (hasStatus(err, 401)) {
      throw new CchatError(
        `The homeserver does not know the application service of "${maker.registration}" yet.`,
        {
          hint:
            `Add "${maker.registration}" to app_service_config_files in the homeserver's config and restart it.`,
          exitCode: ExitCode.config,
          cause: err,
        },
      );
    }
    if (err instanceof MatrixError && err.errcode === "M_EXCLUSIVE") {
      throw new CchatError(
        `The homeserver's copy of "${maker.registration}" does not name "${name}" yet.`,
        {
          hint: "Restart the homeserver, so that it loads the registration again.",
          exitCode: ExitCode.config,
          cause: err,
        },
      );
    }
    throw err;
  }
}

/**
 * A failure in the middle says exactly where the fleet stands: which agents
 * exist and have their login, and which were not made; running the same
 * command again keeps the first and makes the rest.
 */
function stoppedAt(
  name: string,
  names: string[],
  done: ProvisionedAgent[],
  err: unknown,
): CchatError {
  const cause = err instanceof Error ? err.message : String(err);
  const made = done.length ? done.map((a) => `${a.name} (${a.state})`).join(", ") : "none";
  const left = names.slice(done.length).join(", ");
  return new CchatError(
    `Provisioning stopped at "${name}": ${cause} Done: ${made}. Not done: ${left}.`,
    {
      hint: `${
        err instanceof CchatError && err.hint ? `${err.hint} ` : ""
      }Then run the same command again: the agents done are kept as they are, and the rest are made.`,
      exitCode: err instanceof CchatError ? err.exitCode : ExitCode.failure,
      cause: err,
    },
  );
}

/** What an agent does when it first boots, done now so the fleet's first boot makes no joins. */
async function registerRoom(
  ctx: OpContext,
  config: Config,
  http: MatrixHttp,
  name: string,
  userId: string,
): Promise<string | null> {
  const env = spaceEnv({
    client: new MatrixClient(http),
    userId,
    prefix: config.aliasPrefix,
    federate: config.federate,
    deps: ctx.deps,
    log: ctx.log,
  });
  const { roomId } = await enter(env, name, { host: ctx.deps.hostname(), version: VERSION });
  return roomId;
}

/** A refusal is reported, not thrown: the accounts exist, only their limits stay. */
async function liftRateLimit(
  admin: MatrixHttp,
  userId: string,
): Promise<ProvisionedAgent["rate_limit"]> {
  try {
    await setRateLimitOverride(admin, userId, { messages_per_second: 0, burst_count: 0 });
    return { lifted: true };
  } catch (err) {
    if (!(err instanceof MatrixError) || err.status === 401) throw err;
    return { lifted: false, error: err.message };
  }
}

export interface RevokeOptions {
  name: string;
  homeserver?: string;
  /** The directory provision wrote the agent's login to. */
  out?: string;
}

export interface RevokeResult {
  name: string;
  user_id: string;
  homeserver: string;
  /** Whether the stored login under the directory was logged out (and its file removed). */
  stored_login_revoked: boolean;
  credentials_removed: string | null;
  /** Devices deleted with the admin token; null without one. */
  devices_deleted: number | null;
}

/**
 * Ends an agent's sessions: the login provision stored, logged out with its
 * own token, which ends either kind of token; and, with the admin token, every
 * device of the account, which ends the logins made elsewhere.
 */
export async function revoke(ctx: OpContext, options: RevokeOptions): Promise<RevokeResult> {
  const { deps } = ctx;
  const name = validateAgentName(options.name);
  const config = await loadConfig(deps, { homeserver: options.homeserver });
  const adminToken = deps.env(ADMIN_TOKEN_ENV);
  const configDir = options.out === undefined ? undefined : agentConfigDir(options.out, name);
  const stored = configDir ? await readCredentials(configDir) : undefined;
  if (!stored && adminToken === undefined) {
    throw new UsageError(`There is nothing to revoke "${name}" with.`, {
      hint: configDir
        ? `No stored login is at "${configDir}"; set ${ADMIN_TOKEN_ENV} to revoke through the admin API.`
        : `Set ${ADMIN_TOKEN_ENV}, or pass --out DIR where "cchat provision" wrote its login.`,
    });
  }
  const homeserver = stored?.homeserver ?? await homeserverOf(config);
  const anonymous = transport(ctx, config, homeserver);
  if (stored) {
    try {
      await new MatrixClient(anonymous.withToken(stored.accessToken)).logout();
    } catch (err) {
      // Already dead: revoked before, or its device deleted.
      if (!(hasStatus(err, 401))) throw err;
    }
    await deleteCredentials(configDir!);
  }
  let userId = stored?.userId;
  let devices: number | null = null;
  if (adminToken !== undefined) {
    const admin = anonymous.withToken(adminToken);
    userId ??= `@${name}:${await adminServer(admin, homeserver)}`;
    const ids = await asAdmin(() => userDevices(admin, userId!));
    if (ids.length > 0) await asAdmin(() => deleteDevices(admin, userId!, ids));
    devices = ids.length;
  }
  return {
    name,
    user_id: userId!,
    homeserver,
    stored_login_revoked: stored !== undefined,
    credentials_removed: stored ? credentialsPath(configDir!) : null,
    devices_deleted: devices,
  };
}

async function homeserverOf(config: Config): Promise<string> {
  return requireHomeserver(config, await readCredentials(config.configDir));
}

/** The server name users get on this homeserver, learnt from the admin's own id. */
async function adminServer(admin: MatrixHttp, homeserver: string): Promise<string> {
  let userId: string;
  try {
    ({ userId } = await new MatrixClient(admin).whoami());
  } catch (err) {
    if (!(hasStatus(err, 401))) throw err;
    throw new CchatError(`The homeserver "${homeserver}" does not accept ${ADMIN_TOKEN_ENV}.`, {
      hint: "Give the access token of a server admin's current session.",
      exitCode: ExitCode.auth,
      cause: err,
    });
  }
  const server = serverOfUserId(userId);
  if (server === undefined) {
    throw new CchatError(`The admin's user id "${userId}" is not a Matrix user id.`, {
      hint: "Check that the base URL points at a Matrix homeserver.",
    });
  }
  return server;
}

/** An admin call whose 403 means the token is not an admin's, said plainly. */
async function asAdmin<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(hasStatus(err, 403))) throw err;
    throw new CchatError(`The homeserver refused an admin request (${err.request}).`, {
      hint: `${ADMIN_TOKEN_ENV} must be the access token of a server admin.`,
      exitCode: ExitCode.auth,
      cause: err,
    });
  }
}
