/** The stored login: one file, mode 0600, written whole or not at all. */
import { ConfigError } from "./errors.ts";
import { writePrivately } from "./private_file.ts";

export interface Credentials {
  homeserver: string;
  userId: string;
  accessToken: string;
  deviceId?: string;
}

export const credentialsPath = (configDir: string) => `${configDir}/credentials.json`;

export async function readCredentials(configDir: string): Promise<Credentials | undefined> {
  const path = credentialsPath(configDir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`Cannot read the stored login "${path}": ${(err as Error).message}.`, {
      hint: "Check its permissions, or log in again.",
    });
  }
  const value = (() => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  })();
  if (
    typeof value?.homeserver !== "string" || typeof value?.user_id !== "string" ||
    typeof value?.access_token !== "string"
  ) {
    throw new ConfigError(`The stored login "${path}" is damaged.`, {
      hint: 'Run "cchat logout", then "cchat login" again.',
    });
  }
  return {
    homeserver: value.homeserver,
    userId: value.user_id,
    accessToken: value.access_token,
    deviceId: typeof value.device_id === "string" ? value.device_id : undefined,
  };
}

/** Written to a private temporary file and renamed, so a crash never leaves half a token. */
export async function writeCredentials(configDir: string, credentials: Credentials): Promise<void> {
  const path = credentialsPath(configDir);
  const body = JSON.stringify(
    {
      homeserver: credentials.homeserver,
      user_id: credentials.userId,
      access_token: credentials.accessToken,
      device_id: credentials.deviceId,
    },
    null,
    2,
  );
  try {
    await writePrivately(path, body + "\n");
  } catch (err) {
    throw new ConfigError(`Cannot store the login in "${path}": ${(err as Error).message}.`, {
      hint: "Check that the config directory is writable, or set XDG_CONFIG_HOME.",
    });
  }
}

/**
 * Makes sure a login can be stored in `configDir` (made private if missing),
 * by writing and removing a probe: an operator learns it before any account
 * is made whose token would then have nowhere to go.
 */
export async function checkCredentialsWritable(configDir: string): Promise<void> {
  const probe = `${credentialsPath(configDir)}.${crypto.randomUUID()}.probe`;
  try {
    await Deno.mkdir(configDir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(probe, "", { mode: 0o600, createNew: true });
    await Deno.remove(probe);
  } catch (err) {
    throw new ConfigError(
      `Cannot store a login in "${configDir}": ${(err as Error).message}.`,
      { hint: "Nothing was created: make the directory writable, or pass another --out." },
    );
  }
}

/** Returns whether there was a stored login to remove. */
export async function deleteCredentials(configDir: string): Promise<boolean> {
  try {
    await Deno.remove(credentialsPath(configDir));
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
