/** How the scripts end: the exit code `main` returns, or one fatal error printed as cchat prints it. */
import { realDeps } from "../src/deps.ts";
import { exitCodeOf } from "../src/errors.ts";
import { outputFor } from "../src/output.ts";

export async function runScript(main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    outputFor(realDeps(), false).fatal(err);
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}
