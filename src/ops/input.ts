/** Reading what the user pipes in: message text, passwords and tokens never travel on argv. */
import type { Deps } from "../deps.ts";
import { UsageError } from "../errors.ts";

/** Standard input as text; bytes that are not UTF-8 are refused rather than sent as U+FFFD. */
export async function readStdin(deps: Pick<Deps, "stdin">): Promise<string> {
  const bytes = await new Response(deps.stdin).arrayBuffer();
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError("Standard input is not valid UTF-8.", {
      hint: 'Convert it first, for example with "iconv -f LATIN1 -t UTF-8".',
    });
  }
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
