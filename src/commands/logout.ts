import { loadConfig } from "../config.ts";
import { deleteCredentials, readCredentials } from "../credentials.ts";
import type { Deps } from "../deps.ts";
import { ExitCode, MatrixError } from "../errors.ts";
import { MatrixClient } from "../matrix/client.ts";
import type { Output } from "../output.ts";
import { transport } from "./context.ts";

/** Ends the session on the server and forgets the stored token; an already dead token is fine. */
export async function run(deps: Deps, out: Output): Promise<number> {
  const config = await loadConfig(deps, {});
  const stored = await readCredentials(config.configDir);
  if (stored) {
    const client = new MatrixClient(
      transport(deps, config, stored.homeserver, out).withToken(stored.accessToken),
    );
    try {
      await client.logout();
    } catch (err) {
      if (!(err instanceof MatrixError && err.status === 401)) throw err;
    }
    await deleteCredentials(config.configDir);
  }
  if (out.json) out.data({ logged_out: stored !== undefined, user_id: stored?.userId ?? null });
  else out.line(stored ? `Logged out ${stored.userId}.` : "Not logged in.");
  return ExitCode.ok;
}
