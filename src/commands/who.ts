import type { Deps } from "../deps.ts";
import { MatrixError } from "../errors.ts";
import type { Agent } from "../space/agents.ts";
import type { Directory } from "../space/space.ts";
import type { Output } from "../output.ts";
import { openSession } from "./context.ts";
import { agentJson, agentTable } from "./agents_view.ts";

export interface WhoOptions {
  /** Also list agents that have been silent for more than a day. */
  all: boolean;
}

export const FORGOTTEN_AFTER_MS = 24 * 3600_000;

/** Lists the agents by name. Joins the Space and lobby only when refused, and never creates anything. */
export async function run(deps: Deps, out: Output, options: WhoOptions): Promise<number> {
  await using session = await openSession(deps, out, {});
  const { spaces } = session;
  const list = async (directory: Directory | null) =>
    directory ? await spaces.listAgents(directory) : [];
  let directory = await spaces.knownDirectory();
  let listed: Agent[];
  try {
    listed = await list(directory);
  } catch (err) {
    // Not a member yet, or the Space refuses us: joining also settles lobby-only mode.
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
    directory = await spaces.open({ create: false });
    listed = await list(directory);
  }
  const agents = listed.filter((agent) =>
    options.all || agent.lastBeatAgeMs !== null && agent.lastBeatAgeMs < FORGOTTEN_AFTER_MS
  );
  if (out.json) {
    out.data({ mode: directory?.spaceId ? "space" : "lobby", agents: agents.map(agentJson) });
  } else {
    out.line(agentTable(agents));
  }
  return 0;
}
