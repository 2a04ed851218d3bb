import { MatrixError, NetworkError, RateLimitError } from "../errors.ts";
import type { Deps } from "../deps.ts";
import { backoffMs } from "../backoff.ts";
import { DEFAULT_MAX_RETRY_WAIT_MS } from "../defaults.ts";
import { serverRetryHint } from "./retry.ts";
import { RateGates } from "./rate_gate.ts";

/**
 * Builds a request path, passing every interpolated value through
 * encodeURIComponent: a raw `#` in an alias would otherwise start a fragment.
 */
export function path(strings: TemplateStringsArray, ...values: string[]): string {
  return strings.reduce(
    (out, part, i) => out + part + (i < values.length ? encodeURIComponent(values[i]) : ""),
    "",
  );
}

export const MAX_ATTEMPTS = 3;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface HttpOptions {
  baseUrl: string;
  accessToken?: string;
  /**
   * The user an application service's token acts as (`user_id` on every
   * request); each such user queues apart after a 429.
   */
  actAs?: string;
  deps: Pick<Deps, "fetch" | "now" | "sleep" | "random">;
  /** Shared per process so clients on one token queue together after a 429. */
  gates?: RateGates;
  maxRetryWaitMs?: number;
  requestTimeoutMs?: number;
  /** Debug notes; never given a credential. */
  log?: (message: string) => void;
}

export interface RequestOptions {
  /** Array values repeat the key, as `via` and `server_name` expect. */
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  /** Safe to repeat after a network error or 502/503/504. Defaults to true for all but POST. */
  idempotent?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const TRANSIENT_STATUSES = new Set([502, 503, 504]);

type Outcome<T> =
  | { kind: "ok"; value: T }
  | { kind: "rate-limited"; error: MatrixError }
  | { kind: "transient"; error: MatrixError | NetworkError };

/** The one place cchat talks HTTP to a homeserver. */
export class MatrixHttp {
  readonly baseUrl: string;
  readonly #accessToken?: string;
  readonly #actAs?: string;
  readonly #deps: HttpOptions["deps"];
  readonly #gates: RateGates;
  readonly #maxRetryWaitMs: number;
  readonly #requestTimeoutMs: number;
  readonly #log: (message: string) => void;

  constructor(options: HttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#accessToken = options.accessToken;
    this.#actAs = options.actAs;
    this.#deps = options.deps;
    this.#gates = options.gates ?? new RateGates(options.deps);
    this.#maxRetryWaitMs = options.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#log = options.log ?? (() => {});
  }

  /**
   * A client for the same server with another token, sharing this one's gates;
   * with `actAs`, an application service's token acting as that user.
   */
  withToken(accessToken: string, actAs?: string): MatrixHttp {
    return new MatrixHttp({
      baseUrl: this.baseUrl,
      accessToken,
      actAs,
      deps: this.#deps,
      gates: this.#gates,
      maxRetryWaitMs: this.#maxRetryWaitMs,
      requestTimeoutMs: this.#requestTimeoutMs,
      log: this.#log,
    });
  }

  /**
   * Sends one request with at most MAX_ATTEMPTS attempts. 429s wait as the
   * server asks, through the token's gate; network errors and 502/503/504
   * back off with jitter, but only when the call is idempotent.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const label = `${method} ${path}`;
    const idempotent = options.idempotent ?? method !== "POST";
    const gate = this.#gates.for(
      this.#actAs === undefined ? this.#accessToken ?? "" : `${this.#accessToken}|${this.#actAs}`,
    );
    for (let attempt = 1;; attempt++) {
      const queued = await gate.enter(this.#maxRetryWaitMs, options.signal);
      if (queued > 0) throw this.#overCap(label, queued);
      const outcome = await this.#attempt<T>(method, path, label, options);
      if (outcome.kind === "ok") {
        gate.passed();
        return outcome.value;
      }
      if (outcome.kind === "rate-limited") {
        const waitMs = outcome.error.retryAfterMs ?? backoffMs(attempt, this.#deps.random);
        if (waitMs > this.#maxRetryWaitMs) throw this.#overCap(label, waitMs);
        if (attempt >= MAX_ATTEMPTS) throw rateLimited(outcome.error, attempt);
        this.#log(`${label}: rate limited, waiting ${waitMs} ms (attempt ${attempt})`);
        await gate.refused(waitMs);
        continue;
      }
      if (!idempotent || attempt >= MAX_ATTEMPTS) throw outcome.error;
      const wait = backoffMs(attempt, this.#deps.random);
      this.#log(`${label}: ${outcome.error.message}; retrying in ${wait} ms`);
      await this.#deps.sleep(wait, options.signal);
    }
  }

  async #attempt<T>(
    method: string,
    path: string,
    label: string,
    options: RequestOptions,
  ): Promise<Outcome<T>> {
    const url = new URL(this.baseUrl + path);
    if (this.#actAs !== undefined) url.searchParams.set("user_id", this.#actAs);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
        url.searchParams.append(key, String(item));
      }
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#accessToken !== undefined) headers.authorization = `Bearer ${this.#accessToken}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";

    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
    const timeout = new AbortController();
    // Named apart from a caller's abort: below this layer, fetch tells no answer from a stop.
    const timer = setTimeout(
      () =>
        timeout.abort(new DOMException(`no answer within ${seconds(timeoutMs)}`, "TimeoutError")),
      timeoutMs,
    );
    const signal = options.signal
      ? AbortSignal.any([options.signal, timeout.signal])
      : timeout.signal;
    let response: Response;
    let text: string;
    try {
      response = await this.#deps.fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
      });
      text = await response.text();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      const reason = timeout.signal.aborted
        ? `no answer within ${seconds(timeoutMs)}`
        : err instanceof Error
        ? err.message
        : String(err);
      return {
        kind: "transient",
        error: new NetworkError(
          `Cannot reach the homeserver at "${this.baseUrl}" (${label}): ${reason}.`,
          {
            hint: "Check that the homeserver is running and that the homeserver URL is right.",
            cause: err,
          },
        ),
      };
    } finally {
      clearTimeout(timer);
    }

    const body = parseJson(text);
    // A homeserver answers in JSON whatever the status; a gateway error page only says it is away.
    const foreign = body === undefined && !TRANSIENT_STATUSES.has(response.status)
      ? {
        hint:
          `The server at "${this.baseUrl}" does not look like a Matrix homeserver; check the homeserver URL.`,
      }
      : {};
    if (response.ok) {
      if (body === undefined) {
        return {
          kind: "transient",
          error: new MatrixError({
            status: response.status,
            errcode: "M_NOT_JSON",
            error: describeBody(text),
            request: label,
          }, foreign),
        };
      }
      return { kind: "ok", value: body as T };
    }
    const now = this.#deps.now();
    const retryAfterMs = serverRetryHint(response.headers.get("retry-after"), body, now);
    const error = new MatrixError({
      status: response.status,
      errcode: typeof body?.errcode === "string" ? body.errcode : "M_UNKNOWN",
      error: typeof body?.error === "string" ? body.error : describeBody(text),
      retryAfterMs,
      request: label,
    }, foreign);
    if (response.status === 429) return { kind: "rate-limited", error };
    if (TRANSIENT_STATUSES.has(response.status)) return { kind: "transient", error };
    throw error;
  }

  #overCap(label: string, waitMs: number): RateLimitError {
    return new RateLimitError({
      status: 429,
      errcode: "M_LIMIT_EXCEEDED",
      error: `the homeserver asked to wait ${seconds(waitMs)}, longer than the ${
        seconds(this.#maxRetryWaitMs)
      } cap`,
      retryAfterMs: waitMs,
      request: label,
    }, {
      hint: `Try again in ${seconds(waitMs)}, or raise the cap with CCHAT_MAX_RETRY_WAIT.`,
    });
  }
}

/** "250 ms", "1.5 s", "120 s": precise where it matters to a reader. */
function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

function rateLimited(error: MatrixError, attempts: number): RateLimitError {
  return new RateLimitError({
    status: error.status,
    errcode: error.errcode,
    error: `still rate limited after ${attempts} attempts`,
    retryAfterMs: error.retryAfterMs,
    request: error.request,
  }, { hint: "Wait a little and try again; the homeserver is busy." });
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The start of an answer on one line: a web page runs over many. */
function describeBody(text: string): string {
  const oneLine = text.trim().replace(/\s+/g, " ");
  return oneLine === "" ? "the answer had no body" : `unexpected answer "${oneLine.slice(0, 80)}"`;
}
