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

/** The server asked us to wait longer than we may, or kept refusing after every attempt. */
export class RateLimitError extends MatrixError {
  constructor(details: MatrixErrorDetails, options: Omit<CchatErrorOptions, "exitCode"> = {}) {
    super(details, { ...options, exitCode: ExitCode.rateLimited });
  }
}

const AUTH_ERRCODES = new Set(["M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"]);

function exitCodeForStatus(status: number, errcode: string): ExitCode {
  return status === 401 || AUTH_ERRCODES.has(errcode) ? ExitCode.auth : ExitCode.failure;
}
