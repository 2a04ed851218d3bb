/** How long the server asked us to wait, read from its answer. */

/**
 * Milliseconds a `Retry-After` header asks for: delay-seconds or an HTTP-date.
 * Undefined when the header is absent or unreadable, so the caller falls back.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // An HTTP-date always names the day; without letters Date.parse would read "-3" as a year.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** The server's hint, header first, then the body's `retry_after_ms`. */
export function serverRetryHint(
  header: string | null,
  body: { retry_after_ms?: unknown } | undefined,
  nowMs: number,
): number | undefined {
  const fromHeader = parseRetryAfter(header, nowMs);
  if (fromHeader !== undefined) return fromHeader;
  const fromBody = body?.retry_after_ms;
  return typeof fromBody === "number" && Number.isFinite(fromBody) && fromBody >= 0
    ? fromBody
    : undefined;
}
