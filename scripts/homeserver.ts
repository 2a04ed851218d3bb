/**
 * `deno task homeserver start|stop|status|register`: the command line of the
 * local Synapse in harness/homeserver/.
 */

import { parseArgs } from "node:util";
import { ExitCode, UsageError } from "../src/errors.ts";
import {
  DEFAULT_PORT,
  defaultDataDir,
  homeserverStatus,
  registerUser,
  startHomeserver,
  stopHomeserver,
} from "../harness/homeserver/mod.ts";
import { runScript } from "../harness/script.ts";

const USAGE = `Usage: deno task homeserver <command>
  start [DATA_DIR] [PORT] [--limits=off|default] [--db=sqlite|postgres]
  stop [DATA_DIR]
  status [DATA_DIR]
  register USER PASSWORD [admin] [--data DATA_DIR] [--json]
DATA_DIR defaults to \${XDG_CACHE_HOME:-$HOME/.cache}/cchat/homeserver, PORT to ${DEFAULT_PORT}.`;

function parseCli(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        limits: { type: "string", default: "off" },
        db: { type: "string", default: "sqlite" },
        data: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e), { hint: USAGE });
  }
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args);
  const [command, ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const dataDir = (given?: string) => given ?? defaultDataDir();
  switch (command) {
    case "start": {
      const limits = values.limits;
      if (limits !== "off" && limits !== "default") {
        throw new UsageError(`Limits "${limits}" are unknown.`, {
          hint: 'Use "--limits=off" or "--limits=default".',
        });
      }
      const database = values.db;
      if (database !== "sqlite" && database !== "postgres") {
        throw new UsageError(`The database "${database}" is unknown.`, {
          hint: 'Use "--db=sqlite" or "--db=postgres".',
        });
      }
      const port = rest[1] === undefined ? DEFAULT_PORT : Number(rest[1]);
      const server = await startHomeserver({ dataDir: dataDir(rest[0]), port, limits, database });
      console.log(server.baseUrl);
      return ExitCode.ok;
    }
    case "stop": {
      const stopped = await stopHomeserver(dataDir(rest[0]));
      console.error(stopped ? "Homeserver stopped." : "Homeserver not running.");
      return ExitCode.ok;
    }
    case "status": {
      const { state, server } = await homeserverStatus(dataDir(rest[0]));
      console.log(`status: ${state}`);
      if (server) {
        console.log(`url: ${server.baseUrl}`);
        console.log(
          server.pid === undefined ? `container: ${server.container}` : `pid: ${server.pid}`,
        );
        console.log(`route: ${server.route}`);
      }
      return state === "running" ? ExitCode.ok : ExitCode.failure;
    }
    case "register": {
      const [username, password, admin] = rest;
      if (!username || !password || (admin !== undefined && admin !== "admin")) {
        throw new UsageError('Register needs USER and PASSWORD, optionally followed by "admin".', {
          hint: "Example: deno task homeserver register alice secretpw",
        });
      }
      const user = await registerUser(dataDir(values.data), {
        username,
        password,
        admin: admin === "admin",
      });
      console.log(
        values.json
          ? JSON.stringify({
            user_id: user.userId,
            access_token: user.accessToken,
            device_id: user.deviceId,
          })
          : user.userId,
      );
      return ExitCode.ok;
    }
    default:
      throw new UsageError(
        command ? `Command "${command}" is unknown.` : "A command is missing.",
        { hint: USAGE },
      );
  }
}

if (import.meta.main) await runScript(() => main(Deno.args));
