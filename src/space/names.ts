import { ALIAS_PART_PATTERN } from "../config.ts";
import { UsageError } from "../errors.ts";

/** The namespace of cchat's own event types. */
export const EVENT_AGENT = "dev.cchat.agent";
export const EVENT_HEARTBEAT = "dev.cchat.heartbeat";
/** Account data: which sync loop runs the account now, seen by every other one it syncs. */
export const EVENT_SYNC_LOOP = "dev.cchat.sync_loop";

export const MAX_NAME_LENGTH = 64;
const RESERVED_NAMES = new Set(["lobby"]);

/**
 * Checks an agent name before it becomes an alias localpart and a state key.
 * Matrix forbids `:` and whitespace in alias localparts, and state keys stop at
 * 255 bytes; the narrower rule here keeps aliases readable in Element too.
 */
export function validateAgentName(name: string): string {
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  const hint =
    `Use 1 to ${MAX_NAME_LENGTH} lower-case letters, digits, ".", "_", "-" or "=", for example "builder-1".`;
  if (name === "") throw new UsageError("The agent name is empty.", { hint });
  if (new TextEncoder().encode(name).length > MAX_NAME_LENGTH) {
    throw new UsageError(`The agent name "${shown}" is longer than ${MAX_NAME_LENGTH} bytes.`, {
      hint,
    });
  }
  if (/\s/.test(name)) {
    throw new UsageError(`The agent name "${shown}" contains whitespace.`, { hint });
  }
  if (name.includes(":")) throw new UsageError(`The agent name "${shown}" contains ":".`, { hint });
  if (!ALIAS_PART_PATTERN.test(name)) {
    throw new UsageError(`The agent name "${shown}" has characters an alias cannot carry.`, {
      hint,
    });
  }
  // Paths and command lines give these a meaning of their own: "." and ".." are directories.
  if (/^\.+$/.test(name)) {
    throw new UsageError(`The agent name "${shown}" is only dots.`, { hint });
  }
  if (name.startsWith("-")) {
    throw new UsageError(`The agent name "${shown}" starts with "-", which reads as a flag.`, {
      hint,
    });
  }
  if (RESERVED_NAMES.has(name)) {
    throw new UsageError(`The agent name "${name}" is reserved for the shared lobby.`, {
      hint: "Choose another name.",
    });
  }
  return name;
}

export interface Aliases {
  space: string;
  lobby: string;
  agent(name: string): string;
}

export function aliasesFor(prefix: string, serverName: string): Aliases {
  return {
    space: `#${prefix}:${serverName}`,
    lobby: `#${prefix}-lobby:${serverName}`,
    agent: (name) => `#${prefix}-${validateAgentName(name)}:${serverName}`,
  };
}

/** The localpart of an alias, as createRoom's `room_alias_name` wants it. */
export function aliasLocalpart(alias: string): string {
  return alias.slice(1, alias.indexOf(":"));
}
