/** What Linux's /proc tells about a process: liveness, CPU time and memory. */
import { procAlive } from "../src/deps.ts";

/** USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux x86_64 build. */
const CLOCK_TICKS_PER_S = 100;

/** Processes come and go while /proc is read: a missing file is no error. */
export async function readProc(pid: number, file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(`/proc/${pid}/${file}`);
  } catch {
    return undefined;
  }
}

/** The fields of /proc/PID/stat after the command name, which may hold spaces. */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readProc(pid, "stat");
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The process exists and is not a zombie, as cchat's own process check sees it. */
export const isRunning = (pid: number): Promise<boolean> => Promise.resolve(procAlive(pid));

/** User plus system CPU time so far (stat fields 14 and 15). */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  const fields = await statFields(pid);
  return fields && (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** A memory field of /proc/PID/status in KiB: the resident set, or its peak. */
export async function statusKiB(
  pid: number,
  field: "VmRSS" | "VmHWM",
): Promise<number | undefined> {
  const match = (await readProc(pid, "status"))?.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"));
  return match ? Number(match[1]) : undefined;
}
