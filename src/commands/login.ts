import { loadConfig } from "../config.ts";
import { deleteCredentials, readCredentials, writeCredentials } from "../credentials.ts";
import type { Deps } from "../deps.ts";
import { CchatError, ConfigError, ExitCode, MatrixError, UsageError } from "../errors.ts";
import { MatrixClient } from "../matrix/client.ts";
import type { Output } from "../output.ts";
import { transport } from "./context.ts";
import { readSecret } from "./input.ts";

export interface LoginOptions {
  homeserver?: string;
  user?: string;
  /** Take an existing token (CCHAT_ACCESS_TOKEN or stdin) instead of a password. */
  token: boolean;
  /** Log in again even when a login is stored. */
  force: boolean;
}

/**
 * Logs in once and stores the token (mode 0600). Synapse allows about one
 * password login per account every few minutes, so a stored login is reused.
 */
export async function run(deps: Deps, out: Output, options: LoginOptions): Promise<number> {
  const config = await loadConfig(deps, { homeserver: options.homeserver });
  const stored = await readCredentials(config.configDir);
  const sameAccount = stored && (!config.homeserver || config.homeserver === stored.homeserver) &&
    (!options.user || stored.userId === options.user ||
      stored.userId.startsWith(`@${options.user}:`));
  // A given token is always taken; a password login is skipped when one is stored.
  if (stored && sameAccount && !options.force && !options.token) {
    report(out, stored.userId, stored.homeserver, stored.deviceId, true);
    return ExitCode.ok;
  }
  const homeserver = config.homeserver;
  if (!homeserver) {
    throw new ConfigError("No homeserver to log in to.", {
      hint: "Pass --homeserver URL, or set CCHAT_HOMESERVER.",
    });
  }
  const http = transport(deps, config, homeserver, out);
  let login: { userId: string; accessToken: string; deviceId?: string };
  if (options.token) {
    const accessToken = await readSecret(deps, "CCHAT_ACCESS_TOKEN");
    if (!accessToken) {
      throw new UsageError("No access token was given.", {
        hint: 'Set CCHAT_ACCESS_TOKEN, or pipe the token into "cchat login --token".',
      });
    }
    const who = await new MatrixClient(http.withToken(accessToken)).whoami();
    login = { userId: who.userId, accessToken, deviceId: who.deviceId };
  } else {
    if (!options.user) {
      throw new UsageError("Password login needs --user NAME.", { hint: "Or use --token." });
    }
    const password = await readSecret(deps, "CCHAT_PASSWORD");
    if (!password) {
      throw new UsageError("No password was given.", {
        hint: 'Set CCHAT_PASSWORD, or pipe the password into "cchat login".',
      });
    }
    try {
      login = await MatrixClient.login(http, { user: options.user, password, deviceName: "cchat" });
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403) {
        throw new CchatError(
          `Wrong user name or password for "${options.user}" on "${homeserver}".`,
          {
            hint: "Check both and try again; Synapse allows only a few attempts a minute.",
            exitCode: ExitCode.auth,
            cause: err,
          },
        );
      }
      throw err;
    }
  }
  if (stored) await deleteCredentials(config.configDir);
  await writeCredentials(config.configDir, { homeserver, ...login });
  report(out, login.userId, homeserver, login.deviceId, false);
  return ExitCode.ok;
}

function report(
  out: Output,
  userId: string,
  homeserver: string,
  deviceId: string | undefined,
  already: boolean,
) {
  if (out.json) {
    return out.data({
      user_id: userId,
      homeserver,
      device_id: deviceId ?? null,
      already_logged_in: already,
    });
  }
  out.line(
    already
      ? `Already logged in as ${userId} on ${homeserver}.`
      : `Logged in as ${userId} on ${homeserver}.`,
  );
}
