/** Accounts and names on a real homeserver that no other test or run uses. */
import { randomHex } from "../src/encoding.ts";
import { registerWithSharedSecret } from "../src/matrix/admin.ts";
import { anonymousHttp } from "./matrix.ts";

/** What a client needs to reach a homeserver and register users on it. */
export interface TestHomeserver {
  baseUrl: string;
  serverName: string;
  registrationSecret: string;
}

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  username: string;
  password: string;
}

/** Registers a user no other test has: `prefix` plus a random lowercase suffix. */
export async function freshUser(hs: TestHomeserver, prefix = "u"): Promise<TestUser> {
  const username = `${prefix}${randomHex(6)}`.toLowerCase();
  const password = randomHex(12);
  const user = await registerWithSharedSecret(anonymousHttp(hs.baseUrl), hs.registrationSecret, {
    username,
    password,
  });
  return { ...user, username, password };
}

/** A prefix no other test uses, so tests never depend on order. */
export const uniquePrefix = () => `t${crypto.randomUUID().slice(0, 8)}`;
