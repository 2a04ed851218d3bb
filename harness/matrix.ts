/** Real clients on a real homeserver, with real time and a fetch that can be observed. */
import { realSleep } from "../src/deps.ts";
import { MatrixClient } from "../src/matrix/client.ts";
import { type HttpOptions, MatrixHttp } from "../src/matrix/http.ts";
import type { Logger } from "../src/log.ts";
import { type SpaceEnv, spaceEnv } from "../src/space/env.ts";
import type { TestHomeserver, TestUser } from "./users.ts";

export const realTime = { now: Date.now, sleep: realSleep, random: Math.random };

export interface Exchange {
  method: string;
  path: string;
  body: string;
  status: number;
  retryAfter: string | null;
  sentAt: number;
  answeredAt: number;
}

/** A fetch that records what it sent and what came back; the server is still the real one. */
export function recordingFetch(exchanges: Exchange[] = []) {
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit) => {
    const sentAt = Date.now();
    const response = await fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : input);
    exchanges.push({
      method: init?.method ?? "GET",
      path: decodeURIComponent(url.pathname),
      body: typeof init?.body === "string" ? init.body : "",
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      sentAt,
      answeredAt: Date.now(),
    });
    return response;
  };
  return { fetch: fetchFn as typeof fetch, exchanges };
}

export function clientFor(
  hs: TestHomeserver,
  user: Pick<TestUser, "accessToken">,
  options: Partial<Omit<HttpOptions, "baseUrl" | "accessToken">> & { fetch?: typeof fetch } = {},
): MatrixClient {
  return new MatrixClient(
    new MatrixHttp({
      baseUrl: hs.baseUrl,
      accessToken: user.accessToken,
      ...options,
      deps: { ...realTime, fetch: options.fetch ?? fetch, ...options.deps },
    }),
  );
}

/** A transport without a token, for registration and login on `baseUrl`. */
export function anonymousHttp(baseUrl: string): MatrixHttp {
  return new MatrixHttp({ baseUrl, deps: { ...realTime, fetch } });
}

export class CollectingLogger implements Logger {
  warnings: string[] = [];
  notes: string[] = [];
  info = (message: string) => void this.notes.push(message);
  warn = (message: string) => void this.warnings.push(message);
  debug = (message: string) => void this.notes.push(message);
}

/** What `user` works with on the Space under `prefix`. */
export function spaceEnvFor(
  hs: TestHomeserver,
  user: TestUser,
  prefix: string,
  client: MatrixClient = clientFor(hs, user),
  log: Logger = new CollectingLogger(),
): SpaceEnv {
  return spaceEnv({
    client,
    userId: user.userId,
    prefix,
    federate: false,
    deps: realTime,
    log,
  });
}
