import type { Deps } from "../deps.ts";
import { ExitCode, UsageError } from "../errors.ts";
import type { Output } from "../output.ts";
import { openSession } from "./context.ts";
import { formatMessage, messageJson } from "./inbox.ts";

export interface WaitOptions {
  timeout?: string;
}

/** The daemon is another process and kv.watch misses its writes, so the inbox is polled. */
export const POLL_INTERVAL_MS = 250;

/** Blocks until an unread message arrives, prints it and marks it read; exits 7 on timeout. */
export async function run(deps: Deps, out: Output, options: WaitOptions): Promise<number> {
  const timeoutMs = options.timeout === undefined ? Infinity : Number(options.timeout) * 1000;
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`The timeout "${options.timeout}" is not a number of seconds.`, {
      hint: "For example --timeout 30.",
    });
  }
  await using session = await openSession(deps, out, {});
  const deadline = deps.now() + timeoutMs;
  for (;;) {
    const [message] = await session.store.unread(1);
    if (message) {
      if (out.json) out.data(messageJson(message));
      else out.line(formatMessage(message));
      await session.store.markRead([message]);
      return ExitCode.ok;
    }
    const left = deadline - deps.now();
    if (left <= 0) {
      out.note(`No message within ${options.timeout} s.`);
      return ExitCode.timeout;
    }
    await deps.sleep(Math.min(POLL_INTERVAL_MS, left));
  }
}
