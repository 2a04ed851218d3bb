/**
 * Configuration: flags > CCHAT_* environment > config file > defaults.
 * Resolution is pure; reading and writing files is kept at the edges.
 */
import {
  DEFAULT_ALIAS_PREFIX,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_INBOX_RETENTION_MS,
  DEFAULT_MAX_RETRY_WAIT_MS,
  DEFAULT_PUBLISH,
  DEFAULT_STALE_AFTER,
  DEFAULT_SYNC_TIMEOUT_MS,
} from "./defaults.ts";
import { ConfigError, UsageError } from "./errors.ts";
import type { Deps } from "./deps.ts";

export interface Config {
  homeserver?: string;
  /** The agent's name: its room is `#PREFIX-NAME`. */
  name?: string;
  aliasPrefix: string;
  federate: boolean;
  /** List the Space cchat creates in the server's room directory. */
  publish: boolean;
  heartbeatIntervalMs: number;
  /** An agent is offline once its last beat is older than this many intervals. */
  staleAfter: number;
  maxRetryWaitMs: number;
  syncTimeoutMs: number;
  /** Servers whose users may reach the inbox; empty means the agent's own server only. */
  allowedServers: string[];
  /** Users whose messages `cchat mcp --channel` pushes into the session; nobody when empty. */
  channelSenders: string[];
  /** Users whose "yes ID" or "no ID" answers a tool-use approval `cchat mcp --channel` relays. */
  approvers: string[];
  /** How long a read message is kept; unread ones are kept until read. */
  inboxRetentionMs: number;
  dataDir: string;
  configDir: string;
}

/** The settings a user can give; the directories are derived. */
type SettingKey = Exclude<keyof Config, "configDir">;

interface KeySpec<K extends SettingKey> {
  key: K;
  /** The setting's name: its key in the config file, and how flags name it. */
  file: string;
  env: string;
  /** The command-line flag that sets it, where one does. */
  flag?: string;
  parse: (raw: string) => Config[K];
  describe: string;
  /** What JSON the config file may hold for it: a text setting takes a string, never a number. */
  kind: FileKind;
}

type FileKind = "text" | "number" | "boolean" | "list";

/** Whether a config file's value has the JSON type its setting takes, and how to say it. */
const FILE_KINDS: Record<FileKind, { accepts: (value: unknown) => boolean; expected: string }> = {
  text: { accepts: (v) => typeof v === "string", expected: "a text in quotes" },
  // Numbers and booleans also come from the environment as text, so the file may quote them too.
  number: { accepts: (v) => typeof v === "number" || typeof v === "string", expected: "a number" },
  boolean: {
    accepts: (v) => typeof v === "boolean" || typeof v === "string",
    expected: "true or false",
  },
  list: {
    accepts: (v) =>
      typeof v === "string" || Array.isArray(v) && v.every((item) => typeof item === "string"),
    expected: 'a list of texts, such as ["example.org"]',
  },
};

type AnySpec = { [K in SettingKey]: KeySpec<K> }[SettingKey];

/** A number within [min, max], or the error that names the range. */
const between = (min: number, max: number, what = "a number") => (raw: string): number => {
  const value = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${what} from ${min} to ${max}`);
  }
  return value;
};
/**
 * Seconds in [min, max], as milliseconds. The maxima stay far below
 * setTimeout's limit of 2^31-1 ms, past which a timer fires at once and a
 * loop of them floods the server.
 */
const seconds = (min: number, max: number) => {
  const inRange = between(min, max, "a number of seconds");
  return (raw: string): number => Math.round(inRange(raw) * 1000);
};
const DAY_S = 86_400;
const boolean = (raw: string) => {
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new Error('"true" or "false"');
};
const text = (raw: string) => {
  if (raw.trim() === "") throw new Error("a non-empty text");
  return raw.trim();
};
const url = (raw: string) => {
  try {
    const parsed = new URL(raw.trim());
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
    return raw.trim().replace(/\/+$/, "");
  } catch {
    throw new Error('an http(s) URL such as "https://matrix.example.org"');
  }
};
/**
 * What an alias localpart made of the prefix and an agent name may carry:
 * Matrix forbids `:` and whitespace there, and this narrower set keeps
 * aliases readable in Element.
 */
export const ALIAS_PART_PATTERN = /^[a-z0-9._=-]+$/;

const prefix = (raw: string) => {
  if (!ALIAS_PART_PATTERN.test(raw)) {
    throw new Error('lower-case letters, digits, ".", "_", "-" or "="');
  }
  return raw;
};
const list = (raw: string): string[] => raw.split(",").map((s) => s.trim()).filter(Boolean);

/** Every setting, in the order the README's table lists them. */
export const CONFIG_KEYS = [
  {
    key: "homeserver",
    kind: "text",
    file: "homeserver",
    env: "CCHAT_HOMESERVER",
    parse: url,
    describe: "homeserver base URL",
    flag: "--homeserver",
  },
  // Checked by validateAgentName where a name is needed, so a bad one is a usage error.
  {
    key: "name",
    kind: "text",
    file: "name",
    env: "CCHAT_NAME",
    parse: (raw) => raw,
    describe: "agent name",
    flag: "--name",
  },
  {
    key: "aliasPrefix",
    kind: "text",
    file: "alias_prefix",
    env: "CCHAT_ALIAS_PREFIX",
    parse: prefix,
    describe: "alias prefix",
  },
  {
    key: "federate",
    kind: "boolean",
    file: "federate",
    env: "CCHAT_FEDERATE",
    parse: boolean,
    describe: "federation setting",
  },
  {
    key: "publish",
    kind: "boolean",
    file: "publish",
    env: "CCHAT_PUBLISH",
    parse: boolean,
    describe: "publish setting",
  },
  {
    key: "heartbeatIntervalMs",
    kind: "number",
    file: "heartbeat_interval",
    env: "CCHAT_HEARTBEAT_INTERVAL",
    parse: seconds(1, DAY_S),
    describe: "heartbeat interval",
    flag: "--interval",
  },
  {
    key: "staleAfter",
    kind: "number",
    file: "stale_after",
    env: "CCHAT_STALE_AFTER",
    // Below one interval every agent flickers offline between its beats.
    parse: between(1, 100),
    describe: "stale-after multiplier",
  },
  {
    key: "maxRetryWaitMs",
    kind: "number",
    file: "max_retry_wait",
    env: "CCHAT_MAX_RETRY_WAIT",
    parse: seconds(0, DAY_S),
    describe: "retry wait cap",
  },
  {
    key: "syncTimeoutMs",
    kind: "number",
    file: "sync_timeout",
    env: "CCHAT_SYNC_TIMEOUT",
    // A longer long-poll outlasts the idle timeout of most proxies and only hides a dead link.
    parse: seconds(1, 300),
    describe: "sync timeout",
  },
  {
    key: "allowedServers",
    kind: "list",
    file: "allowed_servers",
    env: "CCHAT_ALLOWED_SERVERS",
    parse: list,
    describe: "allowed servers list",
  },
  // Gated by identity, not by room: anyone may post in a room the agent reads.
  {
    key: "channelSenders",
    kind: "list",
    file: "channel_senders",
    env: "CCHAT_CHANNEL_SENDERS",
    parse: list,
    describe: "channel senders list",
  },
  {
    key: "approvers",
    kind: "list",
    file: "approvers",
    env: "CCHAT_APPROVERS",
    parse: list,
    describe: "approvers list",
  },
  // A minute at least: the kept messages are also what drops a replayed batch.
  {
    key: "inboxRetentionMs",
    kind: "number",
    file: "inbox_retention",
    env: "CCHAT_INBOX_RETENTION",
    parse: seconds(60, 366 * 86_400),
    describe: "inbox retention",
  },
  {
    key: "dataDir",
    kind: "text",
    file: "data_dir",
    env: "CCHAT_DATA_DIR",
    parse: text,
    describe: "data directory",
  },
] as const satisfies readonly AnySpec[];

/** A setting's name, as the config file spells it: `heartbeat_interval`, `name`, … */
export type SettingName = typeof CONFIG_KEYS[number]["file"];

/** Values given on the command line, keyed by setting name, as the user typed them. */
export type FlagValues = Partial<Record<SettingName, string>>;

export interface Sources {
  flags: FlagValues;
  env: (name: string) => string | undefined;
  file: Record<string, unknown>;
  filePath: string;
  defaults: { dataDir: string; configDir: string };
}

type Blame = typeof UsageError | typeof ConfigError;

/**
 * Merges the sources by precedence and checks every value, naming the source
 * of a bad one: a usage error for a flag, a config error otherwise.
 */
export function resolveConfig(sources: Sources): Config {
  const config: Config = {
    aliasPrefix: DEFAULT_ALIAS_PREFIX,
    federate: false,
    publish: DEFAULT_PUBLISH,
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    staleAfter: DEFAULT_STALE_AFTER,
    maxRetryWaitMs: DEFAULT_MAX_RETRY_WAIT_MS,
    syncTimeoutMs: DEFAULT_SYNC_TIMEOUT_MS,
    allowedServers: [],
    channelSenders: [],
    approvers: [],
    inboxRetentionMs: DEFAULT_INBOX_RETENTION_MS,
    ...sources.defaults,
  };
  const known = new Set<string>(CONFIG_KEYS.map((k) => k.file));
  for (const key of Object.keys(sources.file)) {
    if (!known.has(key)) {
      throw new ConfigError(`The config file "${sources.filePath}" has the unknown key "${key}".`, {
        hint: `Known keys: ${[...known].join(", ")}.`,
      });
    }
  }
  for (const spec of CONFIG_KEYS as readonly AnySpec[]) {
    // A bad flag is fixed in the command, like any other bad flag; the rest in the configuration.
    const candidates: [string | undefined, string, Blame][] = [
      [
        sources.flags[spec.file as SettingName],
        `the ${spec.flag ?? `--${spec.file.replaceAll("_", "-")}`} flag`,
        UsageError,
      ],
      [sources.env(spec.env), `$${spec.env}`, ConfigError],
      [
        fileValue(sources.file[spec.file], spec, sources.filePath),
        `"${spec.file}" in "${sources.filePath}"`,
        ConfigError,
      ],
    ];
    const chosen = candidates.find(([raw]) => raw !== undefined);
    if (!chosen) continue;
    const [raw, origin, Failure] = chosen as [string, string, Blame];
    try {
      assign(config, spec, raw);
    } catch (err) {
      throw new Failure(
        `The ${spec.describe} from ${origin} is "${raw}", not ${(err as Error).message}.`,
        {
          hint: `Fix ${origin}.`,
        },
      );
    }
  }
  return config;
}

function assign<K extends SettingKey>(config: Config, spec: KeySpec<K>, raw: string): void {
  config[spec.key] = spec.parse(raw);
}

/**
 * A file value as the text a flag would carry, once its JSON type is the one
 * the setting takes: `{"data_dir": 7}` would otherwise become a directory "7".
 */
function fileValue(value: unknown, spec: AnySpec, filePath: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const { accepts, expected } = FILE_KINDS[spec.kind];
  if (!accepts(value)) {
    throw new ConfigError(
      `"${spec.file}" in the config file "${filePath}" is ${
        JSON.stringify(value)
      }, not ${expected}.`,
      { hint: `Fix "${spec.file}" in "${filePath}".` },
    );
  }
  return Array.isArray(value) ? value.join(",") : String(value);
}

/** XDG locations, so several users and CI jobs never share state by accident. */
export function defaultDirs(env: Deps["env"]): { configDir: string; dataDir: string } {
  const home = env("HOME") ?? ".";
  return {
    configDir: `${env("XDG_CONFIG_HOME") || `${home}/.config`}/cchat`,
    dataDir: `${env("XDG_STATE_HOME") || `${home}/.local/state`}/cchat`,
  };
}

export function configFilePath(env: Deps["env"]): string {
  return env("CCHAT_CONFIG") ?? `${defaultDirs(env).configDir}/config.json`;
}

/**
 * Reads the config file; a missing one is empty, unless the user `named` it
 * and so expects its settings. An unreadable one is an error that says where.
 */
export async function readConfigFile(
  path: string,
  named = false,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !named) return {};
    if (err instanceof Deno.errors.NotFound) {
      throw new ConfigError(`The config file "${path}" named by CCHAT_CONFIG does not exist.`, {
        hint: "Create it, or point CCHAT_CONFIG at an existing file.",
      });
    }
    throw new ConfigError(`Cannot read the config file "${path}": ${(err as Error).message}.`, {
      hint: "Check its permissions, or point CCHAT_CONFIG at another file.",
    });
  }
  try {
    const value = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error("not an object");
    }
    return value;
  } catch (err) {
    throw new ConfigError(
      `The config file "${path}" is not a JSON object (${(err as Error).message}).`,
      {
        hint: 'Write it as {"homeserver": "https://matrix.example.org", "name": "builder"}.',
      },
    );
  }
}

export async function loadConfig(deps: Deps, flags: Sources["flags"]): Promise<Config> {
  const filePath = configFilePath(deps.env);
  return resolveConfig({
    flags,
    env: deps.env,
    file: await readConfigFile(filePath, deps.env("CCHAT_CONFIG") !== undefined),
    filePath,
    defaults: defaultDirs(deps.env),
  });
}
