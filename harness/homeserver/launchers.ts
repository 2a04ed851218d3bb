/**
 * The two ways the harness runs Synapse itself: a Docker container, or a
 * cached Debian sid chroot with the distribution's matrix-synapse package.
 */

import { realSleep } from "../../src/deps.ts";
import { CchatError } from "../../src/errors.ts";
import { isRunning, readProc } from "../proc.ts";
import { sha256Hex } from "../../src/encoding.ts";
import { type Launcher, paths, type ServerState } from "./config.ts";

const note = (message: string) => console.error(message);

const tail = (text: string, lines = 15) => text.trimEnd().split("\n").slice(-lines).join("\n");

/** Runs a command to completion; a non-zero exit throws with the end of its output. */
export async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    const output = tail(decoder.decode(stdout) + decoder.decode(stderr));
    throw new CchatError(`Command "${command} ${args.join(" ")}" failed with exit code ${code}.`, {
      hint: output ? `Its output ended with:\n${output}` : undefined,
    });
  }
  return decoder.decode(stdout);
}

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args);
    return true;
  } catch {
    return false;
  }
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** How one launcher starts Synapse. */
export interface Runner {
  route: Launcher;
  /** Starts Synapse detached; the result is merged into the recorded state. */
  launch(dataDir: string, port: number): Promise<Pick<ServerState, "pid" | "root" | "container">>;
}

/** Where Synapse listens: loopback on the host; inside a container, what Docker publishes on loopback. */
export const bindAddress = (launcher: Launcher) => launcher === "docker" ? "0.0.0.0" : "127.0.0.1";

/** Docker first when an engine answers, else the chroot on Debian-like hosts as root. */
export async function pickRunner(): Promise<Runner> {
  if (await succeeds("docker", ["info"])) return docker;
  if (Deno.uid() === 0 && await exists("/etc/debian_version")) return chroot;
  throw new CchatError("No way to run a Synapse homeserver on this machine.", {
    hint: [
      "Use one of these routes:",
      "  (a) set CCHAT_TEST_HOMESERVER (base URL) and CCHAT_TEST_REGISTRATION_SECRET for a running Synapse;",
      '  (b) start a Docker engine so that "docker info" succeeds;',
      "  (c) run as root on a Debian-like host, where a debootstrap chroot of Debian sid is built.",
    ].join("\n"),
  });
}

/**
 * Whether the server still runs. A pid read back from a state file must also
 * still be Synapse on this data dir (pids get reused); one just spawned is ours
 * by construction and may not have exec'd into Synapse yet, so `justStarted`
 * skips that check.
 */
export async function isAlive(
  state: ServerState,
  dataDir: string,
  options: { justStarted?: boolean } = {},
): Promise<boolean> {
  if (state.route === "docker") {
    if (!state.container) return false;
    try {
      const running = await run("docker", [
        "inspect",
        "--format",
        "{{.State.Running}}",
        state.container,
      ]);
      return running.trim() === "true";
    } catch {
      return false;
    }
  }
  if (state.pid === undefined) return false;
  return options.justStarted ? await isRunning(state.pid) : await isOurProcess(state.pid, dataDir);
}

/** Running, and still Synapse on this data dir (pids get reused). */
async function isOurProcess(pid: number, dataDir: string): Promise<boolean> {
  if (!await isRunning(pid)) return false;
  const cmdline = await readProc(pid, "cmdline");
  return cmdline?.split("\0").includes(paths(dataDir).config) ?? false;
}

/** Synapse's output under Docker, which keeps it instead of a log file. */
export async function containerLogs(state: ServerState): Promise<string> {
  if (!state.container) return "";
  const output = await new Deno.Command("docker", { args: ["logs", state.container] }).output();
  const decoder = new TextDecoder();
  return decoder.decode(output.stdout) + decoder.decode(output.stderr);
}

/** Stops the server a state describes and undoes its mount; safe to repeat. */
export async function stopServer(state: ServerState, dataDir: string): Promise<void> {
  if (state.route === "docker") {
    if (state.container) {
      await succeeds("docker", ["stop", "--time", "10", state.container]);
      await succeeds("docker", ["rm", "--force", state.container]);
    }
    return;
  }
  if (state.pid !== undefined && await isOurProcess(state.pid, dataDir)) {
    signal(state.pid, "SIGTERM");
    if (!await waitForExit(state.pid, dataDir, 10_000)) {
      note(`Synapse (pid ${state.pid}) ignored SIGTERM for 10 s; sending SIGKILL.`);
      signal(state.pid, "SIGKILL");
      await waitForExit(state.pid, dataDir, 5_000);
    }
  }
  if (state.root) await unmount(state.root + dataDir);
}

/** The process may exit between our check and the signal; that is what we wanted anyway. */
function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

async function waitForExit(pid: number, dataDir: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!await isOurProcess(pid, dataDir)) return true;
    await realSleep(100);
  }
  return false;
}

const docker: Runner = {
  route: "docker",
  async launch(dataDir, port) {
    const container = `cchat-synapse-${(await sha256Hex(dataDir)).slice(0, 12)}`;
    await succeeds("docker", ["rm", "--force", container]);
    note("Starting Synapse in Docker (the first run pulls matrixdotorg/synapse).");
    const p = paths(dataDir);
    await run("docker", [
      "run",
      "--detach",
      "--name",
      container,
      "--publish",
      `127.0.0.1:${port}:${port}`,
      "--volume",
      `${dataDir}:${dataDir}`,
      "--entrypoint",
      "python",
      "matrixdotorg/synapse",
      ...["-m", "synapse.app.homeserver", "-c", p.config, "-c", p.confDir],
    ]);
    return { container };
  },
};

const chroot: Runner = {
  route: "chroot",
  async launch(dataDir) {
    const root = await ensureChroot();
    await bindMount(dataDir, root + dataDir);
    const p = paths(dataDir);
    // `sh` backgrounds the server with its output in the log and tells us its pid;
    // setsid detaches it from our session so it outlives this script.
    const pid = await run("sh", [
      "-c",
      'setsid chroot "$1" /usr/bin/python3 -m synapse.app.homeserver -c "$2" -c "$3" ' +
      '</dev/null >>"$4" 2>&1 & echo $!',
      "sh",
      root,
      p.config,
      p.confDir,
      p.log,
    ], { env: CHROOT_ENV });
    return { pid: Number(pid.trim()), root };
  },
};

const CHROOT_ENV = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  LC_ALL: "C.UTF-8",
  DEBIAN_FRONTEND: "noninteractive",
};

const RECIPE = {
  version: 1,
  suite: "sid",
  variant: "minbase",
  mirror: "http://deb.debian.org/debian",
  packages: ["matrix-synapse"],
  preseed: [
    "matrix-synapse matrix-synapse/server-name string localhost",
    "matrix-synapse matrix-synapse/report-stats boolean false",
  ],
};

/** Returns the cached chroot, building it once (about a minute) under a lock. */
async function ensureChroot(): Promise<string> {
  const cache = Deno.env.get("CCHAT_CHROOT_CACHE") || "/var/cache/cchat";
  const key = (await sha256Hex(JSON.stringify(RECIPE))).slice(0, 12);
  const name = `synapse-${RECIPE.suite}-${key}`;
  const root = `${cache}/${name}`;
  const ready = `${root}/.cchat-ready`;
  if (await exists(ready)) return root;
  await Deno.mkdir(cache, { recursive: true });
  using lock = await Deno.open(`${cache}/${name}.lock`, { create: true, write: true });
  await lock.lock(true);
  if (await exists(ready)) return root;
  if (await exists(root)) {
    throw new CchatError(`Chroot "${root}" exists but was never finished.`, {
      hint: `Unmount anything under it, remove it, and start again.`,
    });
  }
  // Leftovers of an interrupted build: never mounted, so safe to delete.
  for await (const entry of Deno.readDir(cache)) {
    if (entry.name.startsWith(`${name}.tmp-`)) {
      await Deno.remove(`${cache}/${entry.name}`, { recursive: true });
    }
  }
  const started = Date.now();
  note(`Building the Synapse chroot "${root}" (about a minute, once).`);
  const tmp = await Deno.makeTempDir({ dir: cache, prefix: `${name}.tmp-` });
  try {
    await buildChroot(tmp);
    await Deno.writeTextFile(`${tmp}/.cchat-ready`, JSON.stringify(RECIPE) + "\n");
    await Deno.rename(tmp, root);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  note(`Built the Synapse chroot in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  return root;
}

async function buildChroot(dir: string): Promise<void> {
  if (!await succeeds("sh", ["-c", "command -v debootstrap"])) {
    note("Installing debootstrap with apt-get.");
    await run("apt-get", ["update"], { env: CHROOT_ENV });
    await run("apt-get", ["install", "-y", "--no-install-recommends", "debootstrap"], {
      env: CHROOT_ENV,
    });
  }
  note(`  debootstrap ${RECIPE.suite}`);
  await run("debootstrap", [`--variant=${RECIPE.variant}`, RECIPE.suite, dir, RECIPE.mirror], {
    env: CHROOT_ENV,
  });
  // No daemon may start inside the chroot while packages install.
  await Deno.writeTextFile(`${dir}/usr/sbin/policy-rc.d`, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  await Deno.chmod(`${dir}/usr/sbin/policy-rc.d`, 0o755);
  // sid's Release files can look expired to apt on hosts with a skewed clock.
  await Deno.writeTextFile(
    `${dir}/etc/apt/apt.conf.d/99cchat`,
    'Acquire::Check-Valid-Until "false";\n',
  );
  await run("chroot", [dir, "debconf-set-selections"], {
    env: CHROOT_ENV,
    stdin: RECIPE.preseed.join("\n") + "\n",
  });
  note(`  apt-get install ${RECIPE.packages.join(" ")}`);
  await run("chroot", [dir, "apt-get", "update"], { env: CHROOT_ENV });
  await run(
    "chroot",
    [dir, "apt-get", "install", "-y", "--no-install-recommends", ...RECIPE.packages],
    { env: CHROOT_ENV },
  );
  await run("chroot", [dir, "apt-get", "clean"], { env: CHROOT_ENV });
}

/** Mount points of this mount namespace, with /proc's octal escapes undone. */
async function mountPoints(): Promise<Set<string>> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return new Set(
    text.split("\n").filter(Boolean).map((line) =>
      line.split(" ")[4].replace(
        /\\([0-7]{3})/g,
        (_, o: string) => String.fromCharCode(parseInt(o, 8)),
      )
    ),
  );
}

async function bindMount(source: string, target: string): Promise<void> {
  if ((await mountPoints()).has(target)) return;
  await Deno.mkdir(target, { recursive: true });
  try {
    await run("mount", ["--bind", source, target]);
  } catch (e) {
    throw new CchatError(`Could not bind-mount "${source}" into the chroot at "${target}".`, {
      hint: "The chroot route needs root with permission to mount; use the Docker route instead.",
      cause: e,
    });
  }
}

async function unmount(target: string): Promise<void> {
  if (!(await mountPoints()).has(target)) return;
  // A lazy unmount still detaches the data dir if something lingers inside.
  if (!await succeeds("umount", [target])) await run("umount", ["--lazy", target]);
  // Non-recursive: only ever drops the empty mount point.
  await Deno.remove(target).catch(() => {});
}
