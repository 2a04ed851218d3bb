/**
 * `deno task compile`: the bundle as one binary, with the permissions and V8
 * flags of the `cchat` task (deno.json keeps them once). Needs the `denort` runtime of this
 * Deno version: downloaded by Deno when online, or named by DENORT_BIN.
 */
import { CCHAT_RUN_FLAGS } from "../harness/cli.ts";
import { runScript } from "../harness/script.ts";

runScript(async () => {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["compile", ...CCHAT_RUN_FLAGS, "--output", "dist/cchat", "dist/main.js"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
});
