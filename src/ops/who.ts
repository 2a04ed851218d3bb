import { hasStatus } from "../errors.ts";
import type { Agent } from "../space/agents.ts";
import { type Directory, openDirectory } from "../space/directory.ts";
import { listAgents } from "../space/roster.ts";
import type { z } from "zod/v4";
import type { WhoResultSchema } from "./schemas.ts";
import { openSession } from "./session.ts";
import type { OpContext } from "./local.ts";
import { agentView } from "./views.ts";

export interface WhoOptions {
  /** Also list agents that have been silent for more than a day. */
  all?: boolean;
  signal?: AbortSignal;
}

export type WhoResult = z.infer<typeof WhoResultSchema>;

export const FORGOTTEN_AFTER_MS = 24 * 3600_000;

/** Lists the agents by name. Joins the Space and lobby only when refused, and never creates anything. */
export async function who(ctx: OpContext, options: WhoOptions = {}): Promise<WhoResult> {
  await using session = await openSession(ctx, {}, { signal: options.signal });
  const { space } = session;
  const list = async (directory: Directory | null) =>
    directory ? await listAgents(space, directory) : [];
  let directory = await openDirectory(space, "lookup");
  let listed: Agent[];
  try {
    listed = await list(directory);
  } catch (err) {
    // Not a member yet, or the Space refuses us: joining also settles lobby-only mode.
    if (!(hasStatus(err, 403))) throw err;
    directory = await openDirectory(space, "join");
    listed = await list(directory);
  }
  const agents = listed.filter((agent) =>
    options.all || agent.lastBeatAgeMs !== null && agent.lastBeatAgeMs < FORGOTTEN_AFTER_MS
  );
  return {
    mode: directory?.spaceId ? "space" : "lobby",
    agents: agents.sort((a, b) => a.name.localeCompare(b.name)).map(agentView),
  };
}
