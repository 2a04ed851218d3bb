import { Heartbeat } from "../daemon/heartbeat.ts";
import type { Deps } from "../deps.ts";
import { MatrixError } from "../errors.ts";
import type { Output } from "../output.ts";
import { validateAgentName } from "../space/names.ts";
import { VERSION } from "../version.ts";
import { openSession, requireName, type Session } from "./context.ts";

export interface HeartbeatOptions {
  name?: string;
  offline: boolean;
}

/**
 * One beat and exit, for cron: no login and no sync. The rooms come from the
 * cache; when they are unknown or refuse the beat, the agent registers itself
 * (idempotently) and beats again.
 */
export async function run(deps: Deps, out: Output, options: HeartbeatOptions): Promise<number> {
  // A bad name fails before any file or request is touched.
  if (options.name !== undefined) validateAgentName(options.name);
  await using session = await openSession(deps, out, { name: options.name });
  const name = requireName(session.config);
  const heartbeat = new Heartbeat(session.client, {
    userId: session.userId,
    name,
    host: deps.hostname(),
    version: VERSION,
    intervalMs: session.config.heartbeatIntervalMs,
  }, deps.now);
  const status = options.offline ? "offline" : "online";
  let rooms: string[];
  try {
    rooms = [await session.spaces.agentRoom(name), await session.spaces.lobbyRoom()];
    await heartbeat.beat(rooms, status);
  } catch (err) {
    if (!(err instanceof MatrixError && (err.status === 403 || err.status === 404))) throw err;
    rooms = await register(session, name, deps.hostname());
    await heartbeat.beat(rooms, status);
  }
  if (out.json) out.data({ name, status, room_ids: rooms });
  else out.line(`Beat ${status} as "${name}".`);
  return 0;
}

async function register(session: Session, name: string, host: string): Promise<string[]> {
  await session.spaces.forget(name);
  const { directory, roomId } = await session.spaces.enter(name, { host, version: VERSION });
  return roomId === null ? [directory.lobbyId] : [roomId, directory.lobbyId];
}
