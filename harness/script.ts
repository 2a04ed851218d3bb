/** How the scripts end: the exit code `main` returns, or one fatal error printed as cchat prints it. */
import { exitCodeOf, formatFatal, useColor } from "../src/output.ts";

export async function runScript(main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    const text = formatFatal(err, {
      color: useColor((name) => Deno.env.get(name), Deno.stderr.isTerminal()),
      debug: Deno.env.get("CCHAT_DEBUG") === "1",
    });
    console.error(text.trimEnd());
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}
