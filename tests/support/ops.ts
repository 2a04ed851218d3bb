/** An operation's context over a command harness: its deps, and a log that keeps what it was told. */
import type { OpContext } from "../../src/ops/local.ts";
import type { commandHarness } from "./commands.ts";

export function opContext(h: Awaited<ReturnType<typeof commandHarness>>) {
  const log = { warnings: [] as string[], infos: [] as string[] };
  const ctx: OpContext = {
    deps: h.deps,
    log: {
      info: (message) => log.infos.push(message),
      warn: (message) => log.warnings.push(message),
      debug: () => {},
    },
  };
  return { ctx, log };
}
