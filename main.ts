import { runCli } from "./src/cli.ts";
import { realDeps } from "./src/deps.ts";
import { exitCodeOf } from "./src/errors.ts";
import { outputFor } from "./src/output.ts";

if (import.meta.main) {
  const deps = realDeps();
  let code: number;
  try {
    code = await runCli(Deno.args, deps);
  } catch (err) {
    outputFor(deps, false).fatal(err);
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}
