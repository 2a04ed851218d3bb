/**
 * A fleet's application service registration, beside its agents' logins in
 * the provision directory: the file the homeserver loads, and the one the
 * fleet daemon reads its tokens and address from. It holds two secrets, so it
 * is kept like a login (mode 0600).
 */
import { randomHex } from "../encoding.ts";
import { ConfigError } from "../errors.ts";
import {
  aliasesRegex,
  localpartsOf,
  localpartsRegex,
  type Registration,
} from "../matrix/appservice.ts";
import { writePrivately } from "../private_file.ts";

export const registrationPath = (dir: string) => `${dir}/appservice.yaml`;

/** The service's own user: no agent name may start with "_", so none is it. */
export const SERVICE_LOCALPART = "_cchat";
export const SERVICE_ID = "cchat";

/**
 * A new registration for the agents `names`, pushed to at `url`, with fresh
 * tokens; its agents make aliases under `aliasPrefix` (a regex).
 */
export function newRegistration(url: string, names: string[], aliasPrefix: string): Registration {
  return {
    id: SERVICE_ID,
    url,
    as_token: randomHex(32),
    hs_token: randomHex(32),
    sender_localpart: SERVICE_LOCALPART,
    // The fleet's beats and boots are the service's own traffic, not a user flooding a room.
    rate_limited: false,
    receive_ephemeral: false,
    namespaces: {
      users: [{ exclusive: true, regex: localpartsRegex([...names].sort()) }],
      // Not exclusive: an agent outside the fleet makes aliases under the same prefix.
      aliases: [{ exclusive: false, regex: aliasesRegex(aliasPrefix) }],
      rooms: [],
    },
  };
}

/** The agent names a registration lets the service act for. */
export const namesOf = (registration: Registration) =>
  registration.namespaces.users.flatMap(({ regex }) => localpartsOf(regex));

/**
 * `registration` letting the service act for `names` too, with its tokens
 * kept. The names live in one entry of the users' namespace; any other entry
 * (an operator's own regex) stays as it is.
 */
export function withNames(registration: Registration, names: string[]): Registration {
  const known = namesOf(registration);
  if (names.every((name) => known.includes(name))) return registration;
  const all = [...new Set([...known, ...names])].sort();
  const others = registration.namespaces.users.filter(({ regex }) =>
    localpartsOf(regex).length === 0
  );
  return {
    ...registration,
    namespaces: {
      ...registration.namespaces,
      users: [...others, { exclusive: true, regex: localpartsRegex(all) }],
    },
  };
}

function damaged(path: string, why: string): ConfigError {
  return new ConfigError(`The application service registration "${path}" ${why}.`, {
    hint:
      'Remove it and run "cchat provision --appservice" again; the homeserver must then load the new one.',
  });
}

/** The registration in `dir`, if there is one. */
export async function readRegistration(dir: string): Promise<Registration | undefined> {
  const path = registrationPath(dir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`Cannot read "${path}": ${(err as Error).message}.`, {
      hint: "Check its permissions.",
    });
  }
  let value: Partial<Registration>;
  try {
    value = JSON.parse(text);
  } catch {
    throw damaged(path, "is not the JSON cchat writes");
  }
  for (const key of ["id", "url", "as_token", "hs_token", "sender_localpart"] as const) {
    if (typeof value?.[key] !== "string") throw damaged(path, `has no "${key}"`);
  }
  for (const kind of ["users", "aliases", "rooms"] as const) {
    if (!Array.isArray(value.namespaces?.[kind])) {
      throw damaged(path, `has no "namespaces.${kind}" list`);
    }
  }
  try {
    new URL(value.url!);
  } catch {
    throw damaged(path, `has a "url" that is no URL ("${value.url}")`);
  }
  return value as Registration;
}

export async function writeRegistration(dir: string, registration: Registration): Promise<void> {
  const path = registrationPath(dir);
  try {
    await writePrivately(path, JSON.stringify(registration, null, 2) + "\n");
  } catch (err) {
    throw new ConfigError(`Cannot write "${path}": ${(err as Error).message}.`, {
      hint: "Nothing was created: make the directory writable, or pass another --out.",
    });
  }
}
