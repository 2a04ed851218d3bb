/**
 * Figure 6: resident memory of one idle `cchat daemon` in the Space, the
 * lobby and 100 agent rooms, beside idle `deno run`s that only sleep (the
 * runtime's floor) or load cchat's modules and sleep, all sampled from /proc
 * the same way at the same moments.
 */
import { realSleep } from "../../src/deps.ts";
import { agentCli, eventually } from "../../harness/cli.ts";
import { statusKiB } from "../../harness/proc.ts";
import { sharedRoomSet } from "./fleet.ts";
import type { Section } from "./report.ts";

/** The target on the final RSS, in MB of 10^6 bytes (stricter than MiB). */
const TARGET_MB = 60;
const SAMPLE_EVERY_MS = 10_000;
const DEFAULT_SECONDS = 120;
/** Scaled down from the defaults (60 s, 30 s) so two minutes see many beats and long-polls. */
const INTERVAL_S = 5;
const SYNC_TIMEOUT_S = 5;

/** A field of /proc/<pid>/status; a measured process is ours and alive, so it has one. */
export async function statusKb(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const kib = await statusKiB(pid, field);
  if (kib === undefined) throw new Error(`no ${field} for pid ${pid}`);
  return kib;
}

export const mb = (kb: number) => kb * 1024 / 1e6;
export const show = (kb: number) => `${mb(kb).toFixed(1)} MB`;
const summary = (values: number[]) =>
  `${show(values[0])} / ${show(Math.max(...values))} / ${show(values[values.length - 1])}`;

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const CLI = new URL("../../src/cli.ts", import.meta.url).href;

/**
 * Idle scripts measured beside the daemon: the runtime alone, and the runtime
 * with cchat's whole module graph loaded, which splits the daemon's RSS into
 * runtime, code and working data.
 */
export const IDLE_SCRIPTS = {
  floor: "setInterval(() => {}, 60_000);\n",
  modules: `import "${CLI}";\nsetInterval(() => {}, 60_000);\n`,
};

type Process = "daemon" | keyof typeof IDLE_SCRIPTS;

interface Sample {
  atS: number;
  kb: Record<Process, number>;
}

/** Spawns `deno run` of a sleeping script; the child is the deno process itself. */
export async function idle(source: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const script = await Deno.makeTempFile({ prefix: "cchat-idle-", suffix: ".ts" });
  await Deno.writeTextFile(script, source);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", CONFIG, script],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    async stop() {
      child.kill();
      await child.status;
      await Deno.remove(script);
    },
  };
}

export const run: Section = async (context) => {
  const seconds = Number(Deno.env.get("CCHAT_BENCH_MEMORY_SECONDS") ?? DEFAULT_SECONDS);
  if (!(seconds > 0)) throw new Error("CCHAT_BENCH_MEMORY_SECONDS must be a positive number");
  const { fleet, reader } = await sharedRoomSet(context);
  await using agent = await agentCli(context, reader.user, reader.agents[0].name, {
    prefix: fleet.prefix,
    interval: INTERVAL_S,
    syncTimeout: SYNC_TIMEOUT_S,
  });
  const floor = await idle(IDLE_SCRIPTS.floor);
  const modules = await idle(IDLE_SCRIPTS.modules);
  const daemon = agent.daemon();
  try {
    const pids: Record<Process, number> = {
      daemon: daemon.pid,
      floor: floor.pid,
      modules: modules.pid,
    };
    // Booted: the daemon has opened its rooms and finished its first /sync.
    await eventually("the daemon's first sync", async () => {
      const { stdout } = await agent.run(["status", "--json"]);
      const status = JSON.parse(stdout) as { daemon: { lastSyncAt: number | null } | null };
      return status.daemon?.lastSyncAt ? true : undefined;
    }, 60_000);
    context.note(
      `memory: daemon pid ${pids.daemon} booted in ${fleet.agentCount} agent rooms; ` +
        `sampling for ${seconds} s`,
    );
    const read = async (field: "VmRSS" | "VmHWM") => ({
      daemon: await statusKb(pids.daemon, field),
      floor: await statusKb(pids.floor, field),
      modules: await statusKb(pids.modules, field),
    });
    const samples: Sample[] = [];
    const started = performance.now();
    for (;;) {
      const atS = Math.round((performance.now() - started) / 1000);
      samples.push({ atS, kb: await read("VmRSS") });
      if (atS >= seconds) break;
      await realSleep(SAMPLE_EVERY_MS);
    }
    const series = (process: Process) => samples.map((s) => s.kb[process]);
    const final = (process: Process) => series(process)[samples.length - 1];
    context.note(`memory: daemon ${summary(series("daemon"))}, floor ${summary(series("floor"))}`);
    return [{
      section: "memory",
      metric: `idle daemon RSS, ${fleet.agentCount} agent rooms (start / max / final)`,
      value: `${summary(series("daemon"))}; ${show(final("daemon") - final("floor"))} over ` +
        `the floor, ${show(final("daemon") - final("modules"))} over its idle modules`,
      target: `final ≤ ${TARGET_MB} MB`,
      met: mb(final("daemon")) <= TARGET_MB,
      data: {
        seconds,
        intervalS: INTERVAL_S,
        syncTimeoutS: SYNC_TIMEOUT_S,
        rooms: fleet.agentCount + 2,
        samples,
        peakKb: await read("VmHWM"),
      },
    }, {
      section: "memory",
      metric: "runtime floor: idle deno run (start / max / final)",
      value: summary(series("floor")),
    }, {
      section: "memory",
      metric: "idle deno run importing src/cli.ts (start / max / final)",
      value: summary(series("modules")),
    }];
  } finally {
    const stopped = await daemon.stop();
    await floor.stop();
    await modules.stop();
    if (stopped.code !== 0) {
      context.note(`memory: the daemon exited ${stopped.code}: ${stopped.stderr}`);
    }
  }
};
