/** Reading what the user pipes in: message text, passwords and tokens never travel on argv. */
import type { Deps } from "../deps.ts";

export async function readStdin(deps: Pick<Deps, "stdin">): Promise<string> {
  return await new Response(deps.stdin).text();
}

/** A secret from the environment, else the first line of standard input. */
export async function readSecret(
  deps: Pick<Deps, "env" | "stdin">,
  envName: string,
): Promise<string> {
  const fromEnv = deps.env(envName);
  if (fromEnv !== undefined) return fromEnv;
  return (await readStdin(deps)).split(/\r?\n/)[0].trim();
}
