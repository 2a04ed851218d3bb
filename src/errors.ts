/**
 * The one error family of cchat. Every failure a user can meet is a
 * CchatError carrying a hint and the exit code the process ends with.
 */

/** Exit codes, documented in the README; scripts and supervisors rely on them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  auth: 4,
  unreachable: 5,
  rateLimited: 6,
  timeout: 7,
  stale: 8,
  busy: 9,
} as const;
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

export interface CchatErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
}

export class CchatError extends Error {
  readonly hint?: string;
  readonly exitCode: ExitCode;

  constructor(message: string, options: CchatErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.failure;
  }
}

/** Bad flags, arguments or input: the user must change the command. */
export class UsageError extends CchatError {
  constructor(message: string, options: Omit<CchatErrorOptions, "exitCode"> = {}) {
    super(message, { ...options, exitCode: ExitCode.usage });
  }
}

/** Missing or invalid configuration or stored credentials. */
export class ConfigError extends CchatError {
  constructor(message: string, options: Omit<CchatErrorOptions, "exitCode"> = {}) {
    super(message, { ...options, exitCode: ExitCode.config });
  }
}

/** The homeserver could not be reached at all (DNS, refused, timed out). */
export class NetworkError extends CchatError {
  constructor(message: string, options: Omit<CchatErrorOptions, "exitCode"> = {}) {
    super(message, { ...options, exitCode: ExitCode.unreachable });
  }
}

export interface MatrixErrorDetails {
  status: number;
  errcode: string;
  /** What the server said, or a description of the answer when it said nothing usable. */
  error: string;
  /** The server's retry hint in milliseconds, when it gave one. */
  retryAfterMs?: number;
  /** `METHOD /path` of the request, never with credentials. */
  request: string;
}

/** A non-2xx answer from the homeserver. */
export class MatrixError extends CchatError {
  readonly status: number;
  readonly errcode: string;
  readonly retryAfterMs?: number;
  readonly request: string;

  constructor(details: MatrixErrorDetails, options: CchatErrorOptions = {}) {
    const exitCode = exitCodeForStatus(details.status, details.errcode);
    super(
      `${details.request} failed: ${details.status} ${details.errcode}: ${details.error}`,
      {
        exitCode,
        hint: exitCode === ExitCode.auth
          ? 'The access token is no longer valid: run "cchat login --force", or set a new CCHAT_ACCESS_TOKEN.'
          : undefined,
        ...options,
      },
    );
    this.status = details.status;
    this.errcode = details.errcode;
    this.retryAfterMs = details.retryAfterMs;
    this.request = details.request;
  }

  /** Whether the server answered with one of these statuses. */
  is(...statuses: number[]): boolean {
    return statuses.includes(this.status);
  }
}

/** Whether `err` is the server's answer with one of these statuses. */
export const hasStatus = (err: unknown, ...statuses: number[]): err is MatrixError =>
  err instanceof MatrixError && err.is(...statuses);

/**
 * The server refused this (forbidden, not found, bad request): the caller can
 * do without it. A dead token, a rate limit or a sick server is no refusal,
 * and must reach the caller.
 */
export const isRefusal = (err: unknown): err is MatrixError =>
  err instanceof MatrixError && !(err instanceof RateLimitError) && err.status >= 400 &&
  err.status < 500 && !err.is(401, 429);

/** The server asked us to wait longer than we may, or kept refusing after every attempt. */
export class RateLimitError extends MatrixError {
  constructor(details: MatrixErrorDetails, options: Omit<CchatErrorOptions, "exitCode"> = {}) {
    super(details, { ...options, exitCode: ExitCode.rateLimited });
  }
}

const AUTH_ERRCODES = new Set(["M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"]);

/**
 * A server's answer, sorted: a refused token, a rate limit, a server away
 * (a 5xx is a proxy answering for a dead one), or anything else it refused.
 */
function exitCodeForStatus(status: number, errcode: string): ExitCode {
  if (status === 401 || AUTH_ERRCODES.has(errcode)) return ExitCode.auth;
  if (status === 429) return ExitCode.rateLimited;
  return status >= 500 ? ExitCode.unreachable : ExitCode.failure;
}

/** The exit code `err` ends the process with. */
export const exitCodeOf = (err: unknown): ExitCode =>
  err instanceof CchatError ? err.exitCode : ExitCode.failure;

/** What kind of failure an error is: the first two pass by themselves and are retried. */
export type Failure = "unreachable" | "rate_limited" | "auth" | "error";

/** The exit code of each kind of failure: the one table `status` and the daemon go by. */
export const FAILURE_EXIT_CODES: Record<Failure, ExitCode> = {
  unreachable: ExitCode.unreachable,
  rate_limited: ExitCode.rateLimited,
  auth: ExitCode.auth,
  error: ExitCode.failure,
};

/** The kind of failure `err` is, as its exit code says. */
export function failureOf(err: unknown): Failure {
  const code = exitCodeOf(err);
  const kind = (Object.keys(FAILURE_EXIT_CODES) as Failure[]).find((failure) =>
    FAILURE_EXIT_CODES[failure] === code
  );
  return kind ?? "error";
}

/** Failures that pass: the server is away, busy or rate limiting. Anything else needs a person. */
export const isTransient = (failure: Failure) =>
  failure === "unreachable" || failure === "rate_limited";
