/**
 * Synapse's shared-secret registration (`/_synapse/admin/v1/register`):
 * how the demo and the integration tests make users on a server with open
 * registration switched off.
 */

import { toHex } from "../encoding.ts";
import { CchatError } from "../errors.ts";
import type { MatrixHttp } from "./http.ts";
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
