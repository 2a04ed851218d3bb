/**
 * Every default setting, once. The layers below the configuration (the HTTP
 * wrapper, the directory reader, the daemon) fall back to the same numbers
 * that `config.ts` gives a user who sets nothing.
 */

export const DEFAULT_ALIAS_PREFIX = "agents";
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 60_000;
/** Intervals after which a silent agent counts as offline. */
export const DEFAULT_STALE_AFTER = 3;
/** A Space stays out of the server's room directory unless its operator lists it. */
export const DEFAULT_PUBLISH = false;
/**
 * Synapse's default room-creation limit refills about once a minute, so a cap
 * below that would turn ordinary room creation into errors.
 */
export const DEFAULT_MAX_RETRY_WAIT_MS = 120_000;
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000;
/** Read messages are kept a week: long enough to look back, short enough to bound the file. */
export const DEFAULT_INBOX_RETENTION_MS = 7 * 24 * 3600_000;
/** Where a fleet's application service listens unless its registration says otherwise: loopback only. */
export const DEFAULT_APPSERVICE_URL = "http://127.0.0.1:9339";
