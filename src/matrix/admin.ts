/**
 * Synapse's admin API: shared-secret registration (`/_synapse/admin/v1/register`),
 * how the demo, provision and the integration tests make users on a server with
 * open registration switched off; and the user endpoints an admin token opens,
 * which provision and revoke use.
 */

import { toHex } from "../encoding.ts";
import { CchatError, hasStatus } from "../errors.ts";
import { type MatrixHttp, path } from "./http.ts";
import type { LoginResult } from "./types.ts";

export interface NewUser {
  username: string;
  password: string;
  admin?: boolean;
}

const PATH = "/_synapse/admin/v1/register";

/** Registers a user with the server's `registration_shared_secret`, through a token-less transport. */
export async function registerWithSharedSecret(
  http: MatrixHttp,
  sharedSecret: string,
  user: NewUser,
): Promise<LoginResult> {
  const { nonce } = await http.request<Record<string, unknown>>("GET", PATH);
  if (typeof nonce !== "string" || nonce === "") throw missing("nonce", "GET");
  const admin = user.admin ?? false;
  const mac = await registrationMac(sharedSecret, nonce, user.username, user.password, admin);
  const body = await http.request<Record<string, unknown>>("POST", PATH, {
    body: { nonce, username: user.username, password: user.password, admin, mac },
  });
  const field = (name: string) => {
    const value = body[name];
    if (typeof value !== "string" || value === "") throw missing(name, "POST");
    return value;
  };
  return {
    userId: field("user_id"),
    accessToken: field("access_token"),
    deviceId: field("device_id"),
  };
}

function missing(name: string, method: string): CchatError {
  return new CchatError(`${method} ${PATH} answered without "${name}".`, {
    hint: "Check that the base URL points at a Synapse homeserver.",
  });
}

/** Lowercase hex HMAC-SHA1 over `nonce\0username\0password\0admin|notadmin`, as Synapse checks it. */
export async function registrationMac(
  sharedSecret: string,
  nonce: string,
  username: string,
  password: string,
  admin: boolean,
): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(sharedSecret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const message = [nonce, username, password, admin ? "admin" : "notadmin"].join("\0");
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

/** Whether the local user exists, through a transport holding an admin's token. */
export async function userExists(admin: MatrixHttp, userId: string): Promise<boolean> {
  try {
    await admin.request("GET", path`/_synapse/admin/v2/users/${userId}`);
    return true;
  } catch (err) {
    if (hasStatus(err, 404)) return false;
    throw err;
  }
}

/** Creates a local user with no password: only admin-issued tokens can act as it. */
export async function createUser(admin: MatrixHttp, userId: string): Promise<void> {
  await admin.request("PUT", path`/_synapse/admin/v2/users/${userId}`, { body: {} });
}

/**
 * A new access token for the user. Synapse issues it to the admin on the
 * user's behalf, with no device: only its own logout (or the admin's
 * logout from everywhere) ends it, never a deletion of the user's devices.
 */
export async function loginAsUser(admin: MatrixHttp, userId: string): Promise<string> {
  const answer = await admin.request<{ access_token?: unknown }>(
    "POST",
    path`/_synapse/admin/v1/users/${userId}/login`,
    { body: {} },
  );
  if (typeof answer.access_token !== "string" || answer.access_token === "") {
    throw new CchatError(`The homeserver issued no access token for "${userId}".`, {
      hint: "Check that the base URL points at a Synapse homeserver.",
    });
  }
  return answer.access_token;
}

/** A user's own message rate limit; 0 for both lifts it. */
export interface RateLimitOverride {
  messages_per_second: number;
  burst_count: number;
}

export async function setRateLimitOverride(
  admin: MatrixHttp,
  userId: string,
  limit: RateLimitOverride,
): Promise<void> {
  await admin.request("POST", path`/_synapse/admin/v1/users/${userId}/override_ratelimit`, {
    body: limit,
    idempotent: true,
  });
}

/** The user's override, or undefined when the server's defaults apply. */
export async function rateLimitOverride(
  admin: MatrixHttp,
  userId: string,
): Promise<RateLimitOverride | undefined> {
  const answer = await admin.request<Partial<RateLimitOverride>>(
    "GET",
    path`/_synapse/admin/v1/users/${userId}/override_ratelimit`,
  );
  const { messages_per_second, burst_count } = answer;
  return typeof messages_per_second === "number" && typeof burst_count === "number"
    ? { messages_per_second, burst_count }
    : undefined;
}

/** The ids of the user's devices, each one a session. */
export async function userDevices(admin: MatrixHttp, userId: string): Promise<string[]> {
  const answer = await admin.request<{ devices?: { device_id?: unknown }[] }>(
    "GET",
    path`/_synapse/admin/v2/users/${userId}/devices`,
  );
  return (answer.devices ?? []).flatMap((device) =>
    typeof device.device_id === "string" ? [device.device_id] : []
  );
}

/** Deletes the devices, and with them their access tokens. */
export async function deleteDevices(
  admin: MatrixHttp,
  userId: string,
  deviceIds: string[],
): Promise<void> {
  await admin.request("POST", path`/_synapse/admin/v2/users/${userId}/delete_devices`, {
    body: { devices: deviceIds },
    idempotent: true,
  });
}
