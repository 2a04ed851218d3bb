/**
 * Synapse's shared-secret registration (`/_synapse/admin/v1/register`):
 * how the demo and the integration tests make users on a server with open
 * registration switched off.
 */

import { toHex } from "../encoding.ts";
import { CchatError, MatrixError, NetworkError } from "../errors.ts";

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface NewUser {
  username: string;
  password: string;
  admin?: boolean;
}

const PATH = "/_synapse/admin/v1/register";

/** Registers a user with the server's `registration_shared_secret`. */
export async function registerWithSharedSecret(
  fetchFn: typeof fetch,
  baseUrl: string,
  sharedSecret: string,
  user: NewUser,
): Promise<RegisteredUser> {
  const url = baseUrl.replace(/\/+$/, "") + PATH;
  const nonceBody = await call(fetchFn, url, "GET");
  const nonce = stringField(nonceBody, "nonce", "GET");
  const admin = user.admin ?? false;
  const mac = await registrationMac(sharedSecret, nonce, user.username, user.password, admin);
  const body = await call(fetchFn, url, "POST", {
    nonce,
    username: user.username,
    password: user.password,
    admin,
    mac,
  });
  return {
    userId: stringField(body, "user_id", "POST"),
    accessToken: stringField(body, "access_token", "POST"),
    deviceId: stringField(body, "device_id", "POST"),
  };
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
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(message));
  return toHex(signature);
}

async function call(
  fetchFn: typeof fetch,
  url: string,
  method: "GET" | "POST",
  payload?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const request = `${method} ${PATH}`;
  let response: Response;
  try {
    response = await fetchFn(url, {
      method,
      headers: payload ? { "content-type": "application/json" } : undefined,
      body: payload ? JSON.stringify(payload) : undefined,
    });
  } catch (cause) {
    throw new NetworkError(`Could not reach the homeserver at "${new URL(url).origin}".`, {
      hint: 'Check that it is running, e.g. with "deno task homeserver status".',
      cause,
    });
  }
  const text = await response.text();
  const body = parseObject(text);
  if (!response.ok) {
    throw new MatrixError({
      status: response.status,
      errcode: typeof body?.errcode === "string" ? body.errcode : "M_UNKNOWN",
      error: typeof body?.error === "string"
        ? body.error
        : `HTTP ${response.status} ${response.statusText} without a Matrix error body`,
      retryAfterMs: retryAfterMs(body, response.headers),
      request,
    });
  }
  if (!body) throw new CchatError(`${request} answered ${response.status} without a JSON object.`);
  return body;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

function retryAfterMs(body: Record<string, unknown> | undefined, headers: Headers) {
  if (typeof body?.retry_after_ms === "number") return body.retry_after_ms;
  const seconds = Number(headers.get("retry-after") ?? NaN);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

function stringField(body: Record<string, unknown>, name: string, method: string): string {
  const value = body[name];
  if (typeof value !== "string" || value === "") {
    throw new CchatError(`${method} ${PATH} answered without a "${name}".`, {
      hint: "Check that the base URL points at a Synapse homeserver.",
    });
  }
  return value;
}
