import type { Deps } from "../deps.ts";
import type { Output } from "../output.ts";
import { openSession } from "./context.ts";
import { agentJson, agentTable } from "./agents_view.ts";

export interface WhoOptions {
  /** Also list agents that have been silent for more than a day. */
  all: boolean;
}

export const FORGOTTEN_AFTER_MS = 24 * 3600_000;

/** Lists the agents, online first by name. Joins the Space to see it, but never creates anything. */
export async function run(deps: Deps, out: Output, options: WhoOptions): Promise<number> {
  await using session = await openSession(deps, out, {});
  const directory = await session.spaces.open({ create: false });
  const agents = (directory ? await session.spaces.listAgents(directory) : []).filter((agent) =>
    options.all || agent.lastBeatAgeMs !== null && agent.lastBeatAgeMs < FORGOTTEN_AFTER_MS
  );
  if (out.json) {
    out.data({ mode: directory?.spaceId ? "space" : "lobby", agents: agents.map(agentJson) });
  } else {
    out.line(agentTable(agents));
  }
  return 0;
}
