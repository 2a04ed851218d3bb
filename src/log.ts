/** Where the layers below the faces say what they do; the CLI's Output is one. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

/** For callers that want nothing said. */
export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };

/** Says each message after `[name] `, so the lines of the agents one process hosts tell apart. */
export function prefixedLogger(log: Logger, name: string): Logger {
  return {
    info: (message) => log.info(`[${name}] ${message}`),
    warn: (message) => log.warn(`[${name}] ${message}`),
    debug: (message) => log.debug(`[${name}] ${message}`),
  };
}
