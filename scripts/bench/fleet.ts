/**
 * Fleets of registered agents for the benchmarks, built in-process (no CLI
 * start-up per agent) and grown in steps, so one fleet serves every size.
 */
import pMap from "p-map";
import { HeartbeatWriter } from "../../src/daemon/heartbeat_writer.ts";
import type { MatrixClient } from "../../src/matrix/client.ts";
import { openDirectory } from "../../src/space/directory.ts";
import { registerAgent } from "../../src/space/registration.ts";
import { VERSION } from "../../src/version.ts";
import {
  freshUser,
  type TestHomeserver,
  type TestUser,
  uniquePrefix,
} from "../../harness/users.ts";
import { clientFor, spaceEnvFor } from "../../harness/matrix.ts";

/** Registrations in flight at once: enough to keep Synapse busy, few enough not to thrash it. */
const SETUP_CONCURRENCY = 8;
/** Long enough that every beat stays "online" for the whole run. */
const BEAT_INTERVAL_MS = 3600_000;
const PROFILE = { host: "bench-host", version: VERSION };

export interface FleetMember {
  user: TestUser;
  client: MatrixClient;
  /** The member's agents, each with its own room. */
  agents: { name: string; roomId: string }[];
}

export class Fleet {
  readonly prefix = uniquePrefix();
  readonly members: FleetMember[] = [];
  #directory?: { spaceId: string; lobbyId: string };

  constructor(
    readonly hs: TestHomeserver,
    /** Agents each user registers; more than one gives more rooms than lobby members. */
    readonly agentsPerUser = 1,
  ) {}

  get directory(): { spaceId: string; lobbyId: string } {
    if (!this.#directory) throw new Error("the fleet has no member yet");
    return this.#directory;
  }

  get agentCount(): number {
    return this.members.length * this.agentsPerUser;
  }

  /** Adds users until there are `users`, each joined to the Space and lobby with its agents beating. */
  async grow(users: number): Promise<void> {
    // The first member creates the Space and the lobby alone, so the rest never race to create them.
    if (this.members.length === 0 && users > 0) this.members.push(await this.#enroll(0));
    const indexes = Array.from(
      { length: Math.max(0, users - this.members.length) },
      (_, i) => this.members.length + i,
    );
    this.members.push(
      ...await pMap(indexes, (index) => this.#enroll(index), { concurrency: SETUP_CONCURRENCY }),
    );
  }

  async #enroll(index: number): Promise<FleetMember> {
    const user = await freshUser(this.hs, "bench");
    const client = clientFor(this.hs, user);
    const space = spaceEnvFor(this.hs, user, this.prefix, client);
    const directory = await openDirectory(space, "create");
    const spaceId = directory.spaceId;
    if (spaceId === null) throw new Error(`the Space of "${this.prefix}" is unavailable`);
    this.#directory ??= { spaceId, lobbyId: directory.lobbyId };
    const agents = [];
    for (let i = 0; i < this.agentsPerUser; i++) {
      const name = `a${String(index * this.agentsPerUser + i).padStart(4, "0")}`;
      const { roomId, beatRoomId } = await registerAgent(space, name, PROFILE, spaceId);
      const heartbeat = new HeartbeatWriter(
        client,
        { userId: user.userId, name, ...PROFILE, intervalMs: BEAT_INTERVAL_MS },
        Date.now,
      );
      // As a daemon beats: into the agent's beat room only.
      await heartbeat.beat([beatRoomId], "online");
      agents.push({ name, roomId });
    }
    return { user, client, agents };
  }
}

/** Lobby members of the shared room set; each owns two agents, so there are 100 agent rooms. */
const ROOM_SET_MEMBERS = 50;

export interface RoomSet {
  fleet: Fleet;
  /** The agent under test: a member that also joined every other member's agent rooms. */
  reader: FleetMember;
}

let roomSet: Promise<RoomSet> | undefined;

/**
 * The Space, a lobby of 50 members and 100 agent rooms the reader is in.
 * Built once per process, so the memory figure reuses the filter figure's rooms.
 */
export function sharedRoomSet(hs: TestHomeserver): Promise<RoomSet> {
  roomSet ??= (async () => {
    const fleet = new Fleet(hs, 2);
    await fleet.grow(ROOM_SET_MEMBERS);
    const [reader, ...others] = fleet.members;
    // Restricted rooms admit Space members without an invite.
    await pMap(
      others.flatMap((member) => member.agents),
      (agent) => reader.client.join(agent.roomId, [hs.serverName]),
      { concurrency: SETUP_CONCURRENCY },
    );
    return { fleet, reader };
  })();
  return roomSet;
}
