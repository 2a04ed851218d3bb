/**
 * The guided tour on a homeserver where cchat may register users (the local
 * one `deno task demo` starts). It builds the Space, three agents and a
 * human, and shows what each sees.
 */
import { HeartbeatWriter } from "../daemon/heartbeat_writer.ts";
import { DEFAULT_ALIAS_PREFIX, DEFAULT_HEARTBEAT_INTERVAL_MS } from "../defaults.ts";
import { MatrixError, UsageError } from "../errors.ts";
import { registerWithSharedSecret } from "../matrix/admin.ts";
import { MatrixClient } from "../matrix/client.ts";
import type { MatrixHttp } from "../matrix/http.ts";
import type { LoginResult } from "../matrix/types.ts";
import type { AgentStatus } from "../space/agents.ts";
import { openDirectory } from "../space/directory.ts";
import { type SpaceEnv, spaceEnv } from "../space/env.ts";
import { type Membership, registerAgent } from "../space/registration.ts";
import { listAgents } from "../space/roster.ts";
import { VERSION } from "../version.ts";
import type { OpContext } from "./local.ts";
import { transport } from "./session.ts";
import { loadConfig } from "../config.ts";
import { type AgentView, agentView } from "./views.ts";

export interface DemoOptions {
  homeserver: string;
  /** The server's registration shared secret; read from the environment, never from argv. */
  registrationSecret: string;
  prefix?: string;
  /** Told each step of the tour as it happens, with the agent table where one is due. */
  narrate: (step: DemoStep) => void;
}

export type DemoStep = { text: string } | { agents: AgentView[] };

export interface DemoResult {
  homeserver: string;
  space_id: string | null;
  lobby_id: string;
  agents: AgentView[];
  space_alias: string;
}

const AGENTS = ["planner", "builder", "reviewer"];
export const DEMO_HUMAN = "alice";
export const DEMO_PASSWORD = "cchat-demo";

interface Actor {
  name: string;
  login: LoginResult;
  client: MatrixClient;
  space: SpaceEnv;
}

export async function demo(ctx: OpContext, options: DemoOptions): Promise<DemoResult> {
  if (!options.registrationSecret) {
    throw new UsageError("The demo needs the homeserver's registration shared secret.", {
      hint: 'Run it through "deno task demo", or set CCHAT_REGISTRATION_SECRET.',
    });
  }
  const { deps } = ctx;
  const prefix = options.prefix ?? DEFAULT_ALIAS_PREFIX;
  // The configured retry cap holds here as everywhere.
  const anonymous = transport(ctx, await loadConfig(deps, {}), options.homeserver);
  const say = (text: string) => options.narrate({ text });
  const host = deps.hostname();

  const actor = async (name: string): Promise<Actor> => {
    const login = await account(anonymous, options.registrationSecret, name);
    const client = new MatrixClient(anonymous.withToken(login.accessToken));
    const space = spaceEnv({
      client,
      userId: login.userId,
      prefix,
      federate: false,
      deps,
      log: ctx.log,
    });
    return { name, login, client, space };
  };
  const writers = new Map<string, HeartbeatWriter>();
  const beat = (agent: Actor, where: Membership, status: AgentStatus) => {
    const writer = writers.get(agent.name) ?? new HeartbeatWriter(agent.client, {
      userId: agent.login.userId,
      name: agent.name,
      host,
      version: VERSION,
      intervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    }, deps.now);
    writers.set(agent.name, writer);
    // As a daemon does: into the agent's beat room, where `who` reads it.
    return writer.beat([where.beatRoomId!], status);
  };

  say(`cchat demo on ${options.homeserver}\n`);
  const agents = await Promise.all(AGENTS.map(actor));
  const human = await actor(DEMO_HUMAN);
  say(
    `1. Accounts: agents ${AGENTS.map((a) => `"${a}"`).join(", ")} and the human "${DEMO_HUMAN}".`,
  );

  const directory = await openDirectory(agents[0].space, "create");
  const places = new Map<string, Membership>();
  for (const agent of agents) {
    await openDirectory(agent.space, "create");
    const rooms = await registerAgent(
      agent.space,
      agent.name,
      { host, version: VERSION },
      directory.spaceId!,
    );
    places.set(agent.name, { directory, ...rooms });
  }
  const { aliases } = agents[0].space;
  say(`2. Space "${aliases.space}" with lobby "${aliases.lobby}";`);
  say(`   each agent created its room and registered it in the Space.`);

  const [planner, builder, reviewer] = agents;
  await Promise.all(agents.map((agent) => beat(agent, places.get(agent.name)!, "online")));
  await beat(reviewer, places.get(reviewer.name)!, "offline");
  say(`3. Heartbeats: planner and builder are online; reviewer said goodbye.\n`);
  const humanDirectory = (await openDirectory(human.space, "create"))!;
  const table = async () => (await listAgents(human.space, humanDirectory)).map(agentView);
  options.narrate({ agents: await table() });

  const plannerRoom = places.get(planner.name)!.roomId!;
  await human.client.join(plannerRoom, [human.space.serverName]);
  const ask = await human.client.sendText(plannerRoom, {
    body: "Planner, what is the plan for today?",
  });
  const seen = await planner.client.messages(plannerRoom, { limit: 5 });
  const received = seen.chunk.find((event) => event.event_id === ask);
  await planner.client.sendText(plannerRoom, {
    body: "Build, then review. Builder is on it.",
    replyTo: ask,
    msgtype: "m.notice",
  });
  await builder.client.sendText(directory.lobbyId, { body: "builder: starting the build." });
  say(
    `4. Messages: ${DEMO_HUMAN} asked in planner's room, planner ${
      received ? "read it and " : ""
    }replied;`,
  );
  say(`   builder posted in the lobby.\n`);

  await beat(reviewer, places.get(reviewer.name)!, "online");
  say(`5. Reviewer is back online:\n`);
  const final = await table();
  options.narrate({ agents: final });
  return {
    homeserver: options.homeserver,
    space_id: directory.spaceId,
    lobby_id: directory.lobbyId,
    agents: final,
    space_alias: human.space.aliases.space,
  };
}

/** Registers the demo user, or logs in when an earlier run already did. */
async function account(http: MatrixHttp, secret: string, name: string): Promise<LoginResult> {
  try {
    return await registerWithSharedSecret(http, secret, {
      username: name,
      password: DEMO_PASSWORD,
    });
  } catch (err) {
    if (!(err instanceof MatrixError && err.errcode === "M_USER_IN_USE")) throw err;
    return await MatrixClient.login(http, {
      user: name,
      password: DEMO_PASSWORD,
      deviceName: "cchat demo",
    });
  }
}
