/**
 * The application service side of the Matrix protocol: the registration a
 * homeserver loads, and the HTTP endpoint it pushes transactions to. Knows
 * nothing of agents: it hands each new transaction's events to `apply`.
 */
import type { MatrixEvent } from "./types.ts";

/** What the homeserver loads from the registration file (JSON is valid YAML). */
export interface Registration {
  id: string;
  /** Where the homeserver pushes transactions. */
  url: string;
  /** Ours to the homeserver: it acts as any user of the namespace. */
  as_token: string;
  /** The homeserver's to us: a push without it is not the homeserver's. */
  hs_token: string;
  sender_localpart: string;
  rate_limited: boolean;
  receive_ephemeral?: boolean;
  namespaces: {
    users: { exclusive: boolean; regex: string }[];
    aliases: { exclusive: boolean; regex: string }[];
    rooms: { exclusive: boolean; regex: string }[];
  };
}

/** `text` as a regex that matches it alone. */
export const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/**
 * The users whose localparts are `localparts`, on any server: the homeserver
 * lets a service act only for its own users, so the server needs no naming.
 */
export function localpartsRegex(localparts: string[]): string {
  return `@(?:${localparts.map(escapeRegex).join("|")}):.+`;
}

/**
 * The aliases under `prefixPattern` (a regex) and its `-` names, on any
 * server: a service may create only aliases its registration names.
 */
export function aliasesRegex(prefixPattern: string): string {
  return `#${prefixPattern}(?:-[^:]+)?:.+`;
}

/** The localparts a regex written by `localpartsRegex` names; none for any other regex. */
export function localpartsOf(regex: string): string[] {
  const inner = /^@\(\?:(.*)\):\.\+$/.exec(regex)?.[1];
  if (inner === undefined || inner === "") return [];
  return inner.split("|").map((part) => part.replace(/\\(.)/g, "$1"));
}

/**
 * Whether the registration lets the service act for `userId`, matched as the
 * homeserver matches it: from the start of the id. A regex this runtime
 * cannot read matches nobody.
 */
export function actsFor(registration: Registration, userId: string): boolean {
  return registration.namespaces.users.some(({ regex }) => {
    try {
      return new RegExp(`^(?:${regex})`).test(userId);
    } catch {
      return false;
    }
  });
}

/** Compares in time that does not depend on where the two differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

export interface TransactionHandlerOptions {
  hsToken: string;
  /**
   * Applies one transaction, resolving once its effects are committed: the
   * homeserver gets its answer only then, and pushes it again until it does.
   */
  apply: (txnId: string, events: MatrixEvent[]) => Promise<void>;
  /** Called for every request that carries the homeserver's token. */
  heard: () => void;
  /** Told of a push refused or failed; never given a token. */
  log: (message: string) => void;
}

const TRANSACTION_PATH = /^\/_matrix\/app\/v1\/transactions\/([^/]+)$/;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

const refusal = (status: number, errcode: string, error: string) =>
  json(status, { errcode, error });

/** The token the homeserver sent: the header, or the query parameter older servers use. */
function tokenOf(request: Request, url: URL): string | undefined {
  const header = request.headers.get("authorization");
  if (header !== null) return /^Bearer (.+)$/.exec(header)?.[1] ?? "";
  return url.searchParams.get("access_token") ?? undefined;
}

/**
 * Answers the homeserver's pushes: transactions, and the pings and queries
 * of the spec (no user or alias is made on demand). Every request must carry
 * the homeserver's token; a request without it changes nothing.
 */
export function transactionHandler(
  options: TransactionHandlerOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (!url.pathname.startsWith("/_matrix/app/")) {
      await request.body?.cancel();
      return refusal(404, "M_UNRECOGNIZED", "Unrecognized request");
    }
    const token = tokenOf(request, url);
    if (token === undefined) {
      await request.body?.cancel();
      options.log(`A push to ${url.pathname} carried no token; refused.`);
      return refusal(401, "M_MISSING_TOKEN", "Missing homeserver token");
    }
    if (!sameSecret(token, options.hsToken)) {
      await request.body?.cancel();
      options.log(`A push to ${url.pathname} carried a wrong token; refused.`);
      return refusal(403, "M_FORBIDDEN", "Wrong homeserver token");
    }
    options.heard();
    const txn = TRANSACTION_PATH.exec(url.pathname);
    if (txn && request.method === "PUT") return await transaction(request, txn[1], options);
    await request.body?.cancel();
    if (url.pathname === "/_matrix/app/v1/ping" && request.method === "POST") return json(200, {});
    return refusal(404, "M_NOT_FOUND", "Nothing of that name is made on demand");
  };
}

async function transaction(
  request: Request,
  txnId: string,
  options: TransactionHandlerOptions,
): Promise<Response> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return refusal(400, "M_NOT_JSON", "The transaction is not JSON");
  }
  const events = (body as { events?: unknown })?.events;
  if (!Array.isArray(events)) {
    return refusal(400, "M_BAD_JSON", "The transaction has no events list");
  }
  try {
    await options.apply(txnId, events as MatrixEvent[]);
  } catch (err) {
    // Not acknowledged: the homeserver pushes the same transaction again later.
    options.log(`Transaction "${txnId}" was not applied: ${(err as Error).message}`);
    return refusal(500, "M_UNKNOWN", "The transaction could not be applied yet");
  }
  return json(200, {});
}
