/** Logging in and out: the stored login (mode 0600) that every other operation uses. */
import { loadConfig } from "../config.ts";
import { deleteCredentials, readCredentials, writeCredentials } from "../credentials.ts";
import { CchatError, ConfigError, ExitCode, hasStatus, UsageError } from "../errors.ts";
import { MatrixClient } from "../matrix/client.ts";
import { readSecret } from "./input.ts";
import { transport } from "./session.ts";
import type { OpContext } from "./local.ts";

export interface LoginOptions {
  homeserver?: string;
  user?: string;
  /** Take an existing token (CCHAT_ACCESS_TOKEN or stdin) instead of a password. */
  token?: boolean;
  /** Log in again even when a login is stored. */
  force?: boolean;
}

export interface LoginResult {
  user_id: string;
  homeserver: string;
  device_id: string | null;
  already_logged_in: boolean;
}

/**
 * Logs in once and stores the token. Synapse allows about one password login
 * per account every few minutes, so a stored login is reused.
 */
export async function login(ctx: OpContext, options: LoginOptions): Promise<LoginResult> {
  const { deps } = ctx;
  const config = await loadConfig(deps, { homeserver: options.homeserver });
  const stored = await readCredentials(config.configDir);
  const sameAccount = stored && (!config.homeserver || config.homeserver === stored.homeserver) &&
    (!options.user || stored.userId === options.user ||
      stored.userId.startsWith(`@${options.user}:`));
  // A given token is always taken; a password login is skipped when one is stored.
  if (stored && sameAccount && !options.force && !options.token) {
    return {
      user_id: stored.userId,
      homeserver: stored.homeserver,
      device_id: stored.deviceId ?? null,
      already_logged_in: true,
    };
  }
  const homeserver = config.homeserver;
  if (!homeserver) {
    throw new ConfigError("No homeserver to log in to.", {
      hint: "Pass --homeserver URL, or set CCHAT_HOMESERVER.",
    });
  }
  const http = transport(ctx, config, homeserver);
  let account: { userId: string; accessToken: string; deviceId?: string };
  if (options.token) {
    const accessToken = await readSecret(deps, "CCHAT_ACCESS_TOKEN");
    if (!accessToken) {
      throw new UsageError("No access token was given.", {
        hint: 'Set CCHAT_ACCESS_TOKEN, or pipe the token into "cchat login --token".',
      });
    }
    const who = await new MatrixClient(http.withToken(accessToken)).whoami();
    account = { userId: who.userId, accessToken, deviceId: who.deviceId };
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
      account = await MatrixClient.login(http, {
        user: options.user,
        password,
        deviceName: "cchat",
      });
    } catch (err) {
      if (hasStatus(err, 403)) {
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
  await writeCredentials(config.configDir, { homeserver, ...account });
  return {
    user_id: account.userId,
    homeserver,
    device_id: account.deviceId ?? null,
    already_logged_in: false,
  };
}

export interface LogoutResult {
  logged_out: boolean;
  user_id: string | null;
}

/** Ends the session on the server and forgets the stored token; an already dead token is fine. */
export async function logout(ctx: OpContext): Promise<LogoutResult> {
  const config = await loadConfig(ctx.deps, {});
  const stored = await readCredentials(config.configDir);
  if (stored) {
    const client = new MatrixClient(
      transport(ctx, config, stored.homeserver).withToken(stored.accessToken),
    );
    try {
      await client.logout();
    } catch (err) {
      if (!(hasStatus(err, 401))) throw err;
    }
    await deleteCredentials(config.configDir);
  }
  return { logged_out: stored !== undefined, user_id: stored?.userId ?? null };
}
