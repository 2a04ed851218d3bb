/**
 * `deno task demo`: starts the local homeserver (see harness/homeserver/)
 * and runs `cchat demo` against it, with the permissions users give cchat.
 * Arguments pass through, e.g. `--json`.
 */
import { DEFAULT_PORT, defaultDataDir, startHomeserver } from "../harness/homeserver/mod.ts";
import { CCHAT } from "../harness/cli.ts";
import { runScript } from "../harness/script.ts";

async function main(): Promise<number> {
  const server = await startHomeserver({
    dataDir: defaultDataDir(),
    port: DEFAULT_PORT,
    limits: "off",
  });
  const cchat = new Deno.Command(Deno.execPath(), {
    args: [...CCHAT, "demo", "--homeserver", server.baseUrl, ...Deno.args],
    // The secret travels in the environment, never on a command line that ps shows.
    env: { CCHAT_REGISTRATION_SECRET: server.registrationSecret },
  });
  return (await cchat.spawn().status).code;
}

if (import.meta.main) await runScript(main);
