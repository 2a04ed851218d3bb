import { runCli } from "./src/cli.ts";
import { realDeps } from "./src/deps.ts";
import { exitCodeOf, formatFatal, useColor } from "./src/output.ts";

if (import.meta.main) {
  const deps = realDeps();
  let code: number;
  try {
    code = await runCli(Deno.args, deps);
  } catch (err) {
    deps.stderr.write(formatFatal(err, {
      color: useColor(deps.env, deps.stderrIsTerminal),
      debug: deps.env("CCHAT_DEBUG") === "1",
    }));
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}
