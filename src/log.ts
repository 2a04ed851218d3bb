/** Where the layers below the faces say what they do; the CLI's Output is one. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

/** For callers that want nothing said. */
export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };
