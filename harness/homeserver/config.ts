/**
 * The files of a homeserver data dir: Synapse's config, the limits and extra
 * overlays in conf.d, the signing key, the registration secret, and the
 * state record of the running server.
 */

import { randomHex, sha256Hex } from "../../src/encoding.ts";

export type Limits = "off" | "default";
/** Synapse's database: SQLite in a file, or PostgreSQL (what Synapse's docs ask of production). */
export type Database = "sqlite" | "postgres";
/** How Synapse is run on this machine. */
export type Launcher = "chroot" | "docker";

export const SERVER_NAME = "localhost";

/** What `start` recorded about the server it launched from a data dir. */
export interface ServerState {
  route: Launcher;
  /** Host pid of Synapse (chroot route). */
  pid?: number;
  /** Chroot the data dir is bind-mounted into (chroot route). */
  root?: string;
  /** Container name (docker route). */
  container?: string;
  /** SQLite when absent. */
  database?: Database;
  /** Host pid of PostgreSQL (chroot route), or its container (docker route). */
  postgresPid?: number;
  postgresContainer?: string;
  port: number;
  baseUrl: string;
  serverName: string;
  configHash: string;
  startedAt: string;
}

const LIMITLESS = { per_second: 100000, burst_count: 1000000 };

/**
 * Every `RatelimitSettings` key Synapse 1.160 reads (synapse/config/ratelimiting.py;
 * rc_federation is left out as no federation listener runs). `per_second: 0`
 * would not disable a limit, hence huge numbers.
 */
const UNLIMITED: Record<string, unknown> = {
  rc_message: LIMITLESS,
  rc_registration: LIMITLESS,
  rc_registration_token_validity: LIMITLESS,
  rc_login: { address: LIMITLESS, account: LIMITLESS, failed_attempts: LIMITLESS },
  rc_admin_redaction: LIMITLESS,
  rc_joins: { local: LIMITLESS, remote: LIMITLESS },
  rc_joins_per_room: LIMITLESS,
  rc_3pid_validation: LIMITLESS,
  rc_invites: { per_room: LIMITLESS, per_user: LIMITLESS, per_issuer: LIMITLESS },
  rc_third_party_invite: LIMITLESS,
  rc_room_creation: LIMITLESS,
  rc_presence: { per_user: LIMITLESS },
  rc_delayed_event_mgmt: LIMITLESS,
  rc_reports: LIMITLESS,
  rc_media_create: LIMITLESS,
  rc_key_requests: LIMITLESS,
  rc_user_directory: LIMITLESS,
};

/**
 * Part of the config hash: servers started from another checkout with other
 * words here would be restarted on every start, so the text stays as it is.
 */
const HEADER = "# Written by scripts/homeserver.ts on every start; edits here are lost.\n";

/** JSON is valid YAML and needs no emitter; every path is quoted safely. */
const yaml = (value: unknown) => HEADER + JSON.stringify(value, null, 2) + "\n";

export const paths = (dataDir: string) => ({
  config: `${dataDir}/homeserver.yaml`,
  confDir: `${dataDir}/conf.d`,
  limits: `${dataDir}/conf.d/50-limits.yaml`,
  extra: `${dataDir}/conf.d/60-extra.yaml`,
  secret: `${dataDir}/registration_secret`,
  signingKey: `${dataDir}/signing.key`,
  state: `${dataDir}/server.json`,
  log: `${dataDir}/homeserver.log`,
  lock: `${dataDir}/.homeserver.lock`,
  /** PostgreSQL's data, and the directory of its Unix socket: it listens on no TCP port. */
  postgres: `${dataDir}/postgres`,
  postgresLog: `${dataDir}/postgres.log`,
});

/** The role and the database Synapse uses in the PostgreSQL of a data dir. */
export const POSTGRES_ROLE = "synapse";

export interface ConfigOptions {
  dataDir: string;
  port: number;
  /** Where Synapse listens: loopback on the host, all interfaces inside a container. */
  bindAddress: string;
  limits: Limits;
  extraConfig?: string;
  database?: Database;
}

/** Writes every config file for one start and returns a hash of all of conf.d and the main file. */
export async function writeConfig(options: ConfigOptions): Promise<string> {
  const { dataDir, port } = options;
  const p = paths(dataDir);
  await Deno.mkdir(p.confDir, { recursive: true });
  await ensureSecret(p.secret);
  await ensureSigningKey(p.signingKey);
  await Deno.writeTextFile(
    p.config,
    yaml({
      server_name: SERVER_NAME,
      pid_file: `${dataDir}/homeserver.pid`,
      listeners: [{
        port,
        bind_addresses: [options.bindAddress],
        type: "http",
        tls: false,
        x_forwarded: false,
        // The shared-secret register API lives under the client resource.
        resources: [{ names: ["client"], compress: false }],
      }],
      database: options.database === "postgres"
        ? {
          name: "psycopg2",
          // A host that is a directory is the Unix socket's: no password, no port.
          args: {
            user: POSTGRES_ROLE,
            database: POSTGRES_ROLE,
            host: p.postgres,
            cp_min: 5,
            cp_max: 10,
          },
        }
        : { name: "sqlite3", args: { database: `${dataDir}/homeserver.db` } },
      media_store_path: `${dataDir}/media_store`,
      signing_key_path: p.signingKey,
      registration_shared_secret_path: p.secret,
      enable_registration: false,
      report_stats: false,
      trusted_key_servers: [],
      suppress_key_server_warning: true,
      bcrypt_rounds: 4,
      // Tests exercise presence, typing and receipts.
      presence: { enabled: true },
    }),
  );
  await writeOrRemove(p.limits, options.limits === "off" ? yaml(UNLIMITED) : undefined);
  await writeOrRemove(p.extra, options.extraConfig);
  return await configHash(dataDir);
}

async function writeOrRemove(path: string, text: string | undefined): Promise<void> {
  if (text !== undefined) return await Deno.writeTextFile(path, text);
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** Covers conf.d files someone added by hand too, so their edits also restart the server. */
async function configHash(dataDir: string): Promise<string> {
  const p = paths(dataDir);
  const names: string[] = [];
  for await (const entry of Deno.readDir(p.confDir)) {
    if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name);
  }
  let text = await Deno.readTextFile(p.config);
  for (const name of names.sort()) {
    text += `\0${name}\0${await Deno.readTextFile(`${p.confDir}/${name}`)}`;
  }
  return await sha256Hex(text);
}

/** Generated once; mode 0600 because it lets anyone register admins. */
async function ensureSecret(path: string): Promise<void> {
  await createOnce(path, randomHex(32), 0o600);
  await Deno.chmod(path, 0o600);
}

async function ensureSigningKey(path: string): Promise<void> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/=+$/, "");
  await createOnce(path, `ed25519 a_${randomHex(3)} ${key}\n`, 0o600);
}

async function createOnce(path: string, text: string, mode: number): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { createNew: true, mode });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
}

export async function readSecret(dataDir: string): Promise<string> {
  return (await Deno.readTextFile(paths(dataDir).secret)).trim();
}

export async function readState(dataDir: string): Promise<ServerState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(paths(dataDir).state)) as ServerState;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

export async function writeState(dataDir: string, state: ServerState): Promise<void> {
  await Deno.writeTextFile(paths(dataDir).state, JSON.stringify(state, null, 2) + "\n");
}

export async function removeState(dataDir: string): Promise<void> {
  await writeOrRemove(paths(dataDir).state, undefined);
}
