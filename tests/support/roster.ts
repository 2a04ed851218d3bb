/** A homeserver whose Space holds three agents, for the tests of `who`. */
import { json, type RecordedRequest } from "./fakes.ts";
import { V3 } from "./commands.ts";

export const NOW = 1_700_000_000_000;
export const pathOf = (r: RecordedRequest) => decodeURIComponent(r.url.pathname);
const entry = (user: string, name: string) => ({
  type: "dev.cchat.agent",
  state_key: user,
  sender: user,
  content: { name, room_id: `!${name}:hs.test`, beat_room_id: `!${name}-beat:hs.test` },
});
const beat = (user: string, name: string, ageMs: number) => ({
  type: "dev.cchat.heartbeat",
  state_key: user,
  sender: user,
  origin_server_ts: NOW - ageMs,
  content: { name, status: "online", seq: 1, interval_ms: 10_000, host: "h", version: "v" },
});

/** A Space of three agents: one beating now, one silent for two days, one that never beat. */
export function rosterHomeserver(options: { member: () => boolean }) {
  return (r: RecordedRequest) => {
    const p = pathOf(r);
    if (p === `${V3}/directory/room/#agents:hs.test`) return json({ room_id: "!space:hs.test" });
    if (p === `${V3}/directory/room/#agents-lobby:hs.test`) {
      return json({ room_id: "!lobby:hs.test" });
    }
    if (p.startsWith(`${V3}/join/`)) {
      return json({ room_id: p.includes("lobby") ? "!lobby:hs.test" : "!space:hs.test" });
    }
    if (p === `${V3}/rooms/!space:hs.test/state`) {
      if (!options.member()) return json({ errcode: "M_FORBIDDEN", error: "not in room" }, 403);
      return json([entry("@b:hs.test", "b"), entry("@a:hs.test", "a"), entry("@c:hs.test", "c")]);
    }
    if (p.endsWith("/state/dev.cchat.heartbeat/@a:hs.test")) {
      return json(beat("@a:hs.test", "a", 5_000));
    }
    if (p.endsWith("/state/dev.cchat.heartbeat/@b:hs.test")) {
      return json(beat("@b:hs.test", "b", 2 * 86_400_000));
    }
    if (p.includes("/state/dev.cchat.heartbeat/")) {
      return json({ errcode: "M_NOT_FOUND", error: "" }, 404);
    }
    // The shared rooms were made as cchat makes them.
    if (p.endsWith("/state/m.room.create/")) return json({ sender: "@a:hs.test", content: {} });
    if (p.endsWith("/state/m.room.power_levels/")) {
      return json({
        sender: "@a:hs.test",
        content: { users: { "@a:hs.test": 100 }, state_default: 100, events: {} },
      });
    }
    return json({ errcode: "M_UNRECOGNIZED", error: p }, 404);
  };
}
