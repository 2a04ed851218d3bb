/**
 * `cchat demo`: a guided tour on a homeserver where cchat may register users
 * (the local one `deno task demo` starts). It builds the Space, three agents
 * and a human, and shows what each sees.
 */
import type { Deps } from "../deps.ts";
import { MatrixError, UsageError } from "../errors.ts";
import { registerWithSharedSecret } from "../matrix/admin.ts";
import { MatrixClient } from "../matrix/client.ts";
import { MatrixHttp } from "../matrix/http.ts";
import { RateGates } from "../matrix/rate_gate.ts";
import type { LoginResult } from "../matrix/types.ts";
import type { Output } from "../output.ts";
import { heartbeatContent } from "../space/agents.ts";
import { DEFAULT_ALIAS_PREFIX, EVENT_HEARTBEAT } from "../space/names.ts";
import { type Directory, SpaceManager } from "../space/space.ts";
import { VERSION } from "../version.ts";
import { agentJson, agentTable } from "./agents_view.ts";

export interface DemoOptions {
  homeserver: string;
  /** The server's registration shared secret; read from the environment, never from argv. */
  registrationSecret: string;
  prefix?: string;
}

const AGENTS = ["planner", "builder", "reviewer"];
const HUMAN = "alice";
export const DEMO_PASSWORD = "cchat-demo";
const INTERVAL_MS = 60_000;

interface Actor {
  name: string;
  login: LoginResult;
  client: MatrixClient;
  spaces: SpaceManager;
}

export async function run(deps: Deps, out: Output, options: DemoOptions): Promise<number> {
  if (!options.registrationSecret) {
    throw new UsageError("The demo needs the homeserver's registration shared secret.", {
      hint: 'Run it through "deno task demo", or set CCHAT_REGISTRATION_SECRET.',
    });
  }
  const prefix = options.prefix ?? DEFAULT_ALIAS_PREFIX;
  const gates = new RateGates(deps);
  const anonymous = new MatrixHttp({ baseUrl: options.homeserver, deps, gates });
  const say = (text: string) => out.json ? undefined : out.line(text);
  const host = deps.hostname();

  const actor = async (name: string): Promise<Actor> => {
    const login = await account(deps, anonymous, options, name);
    const client = new MatrixClient(anonymous.withToken(login.accessToken));
    const log = { warn: (m: string) => out.warn(m), debug: (m: string) => out.debug(m) };
    const spaces = new SpaceManager({
      client,
      userId: login.userId,
      prefix,
      federate: false,
      deps,
      log,
    });
    return { name, login, client, spaces };
  };
  const beat = async (
    agent: Actor,
    directory: Directory,
    roomId: string,
    status: "online" | "offline",
    seq: number,
  ) => {
    const content = heartbeatContent({
      name: agent.name,
      status,
      seq,
      intervalMs: INTERVAL_MS,
      host,
      version: VERSION,
    });
    await Promise.all(
      [roomId, directory.lobbyId].map((room) =>
        agent.client.putState(room, EVENT_HEARTBEAT, agent.login.userId, content)
      ),
    );
  };

  say(`cchat demo on ${options.homeserver}\n`);
  const agents = await Promise.all(AGENTS.map(actor));
  const human = await actor(HUMAN);
  say(`1. Accounts: agents ${AGENTS.map((a) => `"${a}"`).join(", ")} and the human "${HUMAN}".`);

  const directory = await agents[0].spaces.open();
  const rooms = new Map<string, string>();
  for (const agent of agents) {
    await agent.spaces.open();
    rooms.set(
      agent.name,
      await agent.spaces.registerAgent(agent.name, { host, version: VERSION }, directory.spaceId!),
    );
  }
  say(
    `2. Space "${agents[0].spaces.aliases.space}" with lobby "${agents[0].spaces.aliases.lobby}";`,
  );
  say(`   each agent created its room and registered it in the Space.`);

  const seq = deps.now();
  await Promise.all(
    agents.map((agent) => beat(agent, directory, rooms.get(agent.name)!, "online", seq)),
  );
  await beat(agents[2], directory, rooms.get("reviewer")!, "offline", seq + 1);
  say(`3. Heartbeats: planner and builder are online; reviewer said goodbye.\n`);
  const humanDirectory = await human.spaces.open();
  say(agentTable(await human.spaces.listAgents(humanDirectory)) + "\n");

  const plannerRoom = rooms.get("planner")!;
  await human.client.join(plannerRoom, [human.spaces.serverName]);
  const ask = await human.client.sendText(plannerRoom, {
    body: "Planner, what is the plan for today?",
  });
  const seen = await agents[0].client.messages(plannerRoom, { limit: 5 });
  const received = seen.chunk.find((event) => event.event_id === ask);
  await agents[0].client.sendText(plannerRoom, {
    body: "Build, then review. Builder is on it.",
    replyTo: ask,
    msgtype: "m.notice",
  });
  await agents[1].client.sendText(directory.lobbyId, { body: "builder: starting the build." });
  say(
    `4. Messages: ${HUMAN} asked in planner's room, planner ${
      received ? "read it and " : ""
    }replied;`,
  );
  say(`   builder posted in the lobby.\n`);

  await beat(agents[2], directory, rooms.get("reviewer")!, "online", seq + 2);
  const final = await human.spaces.listAgents(humanDirectory);
  say(`5. Reviewer is back online:\n`);
  say(agentTable(final) + "\n");

  if (out.json) {
    out.data({
      homeserver: options.homeserver,
      space_id: directory.spaceId,
      lobby_id: directory.lobbyId,
      agents: final.map(agentJson),
    });
    return 0;
  }
  say(
    `In Element: sign in to ${options.homeserver} as "${HUMAN}" with the password "${DEMO_PASSWORD}",`,
  );
  say(`join "${human.spaces.aliases.space}", and open the agents' rooms from the Space.`);
  say(
    `As an agent yourself: "cchat login", then "cchat daemon", "cchat send", "cchat who" (see README).`,
  );
  return 0;
}

/** Registers the demo user, or logs in when an earlier run already did. */
async function account(
  deps: Deps,
  http: MatrixHttp,
  options: DemoOptions,
  name: string,
): Promise<LoginResult> {
  try {
    return await registerWithSharedSecret(
      deps.fetch,
      options.homeserver,
      options.registrationSecret,
      {
        username: name,
        password: DEMO_PASSWORD,
      },
    );
  } catch (err) {
    if (!(err instanceof MatrixError && err.errcode === "M_USER_IN_USE")) throw err;
    return await MatrixClient.login(http, {
      user: name,
      password: DEMO_PASSWORD,
      deviceName: "cchat demo",
    });
  }
}
