/**
 * The two ways the harness runs Synapse itself: a Docker container, or a
 * cached Debian sid chroot with the distribution's matrix-synapse package.
 */

import { realSleep } from "../../src/deps.ts";
import { CchatError } from "../../src/errors.ts";
import { isRunning, readProc } from "../proc.ts";
import { sha256Hex } from "../../src/encoding.ts";
import { type Database, type Launcher, paths, POSTGRES_ROLE, type ServerState } from "./config.ts";

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
  /** Starts Synapse detached, its database first; the result is merged into the recorded state. */
  launch(
    dataDir: string,
    port: number,
    database: Database,
  ): Promise<
    Pick<ServerState, "pid" | "root" | "container" | "postgresPid" | "postgresContainer">
  >;
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
  return options.justStarted
    ? await isRunning(state.pid)
    : await isOurProcess(state.pid, paths(dataDir).config);
}

/** Running, and still the process started with `marker` in its arguments (pids get reused). */
async function isOurProcess(pid: number, marker: string): Promise<boolean> {
  if (!await isRunning(pid)) return false;
  const cmdline = await readProc(pid, "cmdline");
  return cmdline?.split("\0").includes(marker) ?? false;
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
    // Synapse first, then the database it was writing to.
    for (const container of [state.container, state.postgresContainer]) {
      if (!container) continue;
      await succeeds("docker", ["stop", "--time", "10", container]);
      await succeeds("docker", ["rm", "--force", container]);
    }
    return;
  }
  const synapse = paths(dataDir).config;
  if (state.pid !== undefined) await stopProcess("Synapse", state.pid, synapse, "SIGTERM");
  // SIGINT is PostgreSQL's fast shutdown: it ends the sessions and writes a checkpoint.
  const { postgres } = paths(dataDir);
  if (state.postgresPid !== undefined) {
    await stopProcess("PostgreSQL", state.postgresPid, postgres, "SIGINT");
  }
  if (state.root) await unmount(state.root + dataDir);
}

/**
 * Restarts the PostgreSQL under a running Synapse, which stays up and meets
 * the restart as a production server would; returns the new host pid (none
 * in Docker, where the container keeps its name).
 */
export async function restartPostgres(
  state: ServerState,
  dataDir: string,
): Promise<number | undefined> {
  if (state.route === "docker") {
    await run("docker", ["restart", "--time", "10", state.postgresContainer!]);
    return undefined;
  }
  await stopProcess("PostgreSQL", state.postgresPid!, paths(dataDir).postgres, "SIGINT");
  return await chrootPostgres(state.root!, dataDir);
}

/** Stops the process `pid` if it still is the one started on `marker`, by `how`, then by force. */
async function stopProcess(what: string, pid: number, marker: string, how: Deno.Signal) {
  if (!await isOurProcess(pid, marker)) return;
  signal(pid, how);
  if (!await waitForExit(pid, marker, 10_000)) {
    note(`${what} (pid ${pid}) ignored ${how} for 10 s; sending SIGKILL.`);
    signal(pid, "SIGKILL");
    await waitForExit(pid, marker, 5_000);
  }
}

/** The process may exit between our check and the signal; that is what we wanted anyway. */
function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

async function waitForExit(pid: number, marker: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!await isOurProcess(pid, marker)) return true;
    await realSleep(100);
  }
  return false;
}

const docker: Runner = {
  route: "docker",
  async launch(dataDir, port, database) {
    const container = `cchat-synapse-${(await sha256Hex(dataDir)).slice(0, 12)}`;
    await succeeds("docker", ["rm", "--force", container]);
    const postgresContainer = database === "postgres"
      ? await dockerPostgres(`${container}-postgres`, dataDir)
      : undefined;
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
    return { container, postgresContainer };
  },
};

/**
 * PostgreSQL's official image on the data dir, listening on its Unix socket
 * there only, which the Synapse container reaches through the same mount.
 */
async function dockerPostgres(container: string, dataDir: string): Promise<string> {
  await succeeds("docker", ["rm", "--force", container]);
  note("Starting PostgreSQL in Docker (the first run pulls postgres:18).");
  const { postgres } = paths(dataDir);
  await run("docker", [
    "run",
    "--detach",
    "--name",
    container,
    "--volume",
    `${dataDir}:${dataDir}`,
    ...["--env", `PGDATA=${postgres}`, "--env", `POSTGRES_USER=${POSTGRES_ROLE}`],
    ...["--env", "POSTGRES_HOST_AUTH_METHOD=trust"],
    ...["--env", "POSTGRES_INITDB_ARGS=--encoding=UTF8 --locale=C"],
    "postgres:18",
    ...["-c", "listen_addresses=", "-c", `unix_socket_directories=${postgres}`],
  ]);
  await untilReady(() => succeeds("docker", ["exec", container, "pg_isready", "-h", postgres]));
  return container;
}

/** Waits until `ready` says so, for PostgreSQL's start (a first one runs initdb). */
async function untilReady(ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!await ready()) {
    if (Date.now() > deadline) throw new CchatError("PostgreSQL did not start within 60 s.");
    await realSleep(200);
  }
}

const chroot: Runner = {
  route: "chroot",
  async launch(dataDir, _port, database) {
    const root = await ensureChroot();
    await bindMount(dataDir, root + dataDir);
    const postgresPid = database === "postgres" ? await chrootPostgres(root, dataDir) : undefined;
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
    return { pid: Number(pid.trim()), root, postgresPid };
  },
};

/**
 * PostgreSQL from the chroot's Debian packages (installed into it the first
 * time one is asked for), its data in the data dir, listening on a Unix
 * socket there and no TCP port; the role and database Synapse uses are made
 * once. Returns the server's host pid.
 */
async function chrootPostgres(root: string, dataDir: string): Promise<number> {
  const bin = await ensurePostgres(root);
  const { postgres, postgresLog } = paths(dataDir);
  const asPostgres = (command: string, ...args: string[]) =>
    run("chroot", ["--userspec=postgres:postgres", root, `${bin}/${command}`, ...args], {
      env: CHROOT_ENV,
    });
  await letPostgresThrough(root, dataDir);
  if (!await exists(`${postgres}/PG_VERSION`)) {
    await Deno.remove(postgres, { recursive: true }).catch(() => {});
    await Deno.mkdir(postgres, { mode: 0o700 });
    await run("chroot", [root, "chown", "postgres:postgres", postgres], { env: CHROOT_ENV });
    note("  initdb for PostgreSQL");
    await asPostgres(
      "initdb",
      ...["-D", postgres, "--auth=trust", `--username=${POSTGRES_ROLE}`],
      ...["--encoding=UTF8", "--locale=C"],
    );
  }
  const pid = await run("sh", [
    "-c",
    'setsid chroot --userspec=postgres:postgres "$1" "$2" -D "$3" -c listen_addresses= ' +
    '-c unix_socket_directories="$3" </dev/null >>"$4" 2>&1 & echo $!',
    "sh",
    root,
    `${bin}/postgres`,
    postgres,
    postgresLog,
  ], { env: CHROOT_ENV });
  await untilReady(() =>
    asPostgres("pg_isready", "-h", postgres, "-U", POSTGRES_ROLE).then(() => true, () => false)
  );
  // Synapse asks for a database in the C locale; made once, and there on every later start.
  await asPostgres(
    "createdb",
    ...["-h", postgres, "-U", POSTGRES_ROLE, "-O", POSTGRES_ROLE, "-T", "template0"],
    ...["-E", "UTF8", "--locale=C", POSTGRES_ROLE],
  ).catch((e) => {
    if (!(e instanceof CchatError && e.hint?.includes("already exists"))) throw e;
  });
  return Number(pid.trim());
}

/**
 * Lets PostgreSQL's user pass through the chroot's directories down to the
 * data dir and into it (traverse only, not list): the tests keep theirs under
 * /root, which only root may enter, or in a temporary directory of mode 0700.
 */
async function letPostgresThrough(root: string, dataDir: string): Promise<void> {
  const parts = dataDir.split("/").filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth++) {
    const dir = `${root}/${parts.slice(0, depth).join("/")}`;
    const { mode } = await Deno.stat(dir);
    if (mode !== null && (mode & 0o001) === 0) await Deno.chmod(dir, (mode & 0o7777) | 0o001);
  }
}

/** The chroot's PostgreSQL binaries, installed with apt the first time, under the chroot's lock. */
async function ensurePostgres(root: string): Promise<string> {
  const found = async () => {
    if (!await exists(`${root}/usr/lib/postgresql`)) return undefined;
    for await (const entry of Deno.readDir(`${root}/usr/lib/postgresql`)) {
      const bin = `/usr/lib/postgresql/${entry.name}/bin`;
      if (await exists(`${root}${bin}/postgres`)) return bin;
    }
    return undefined;
  };
  const bin = await found();
  if (bin) return bin;
  using lock = await Deno.open(`${root}.lock`, { create: true, write: true });
  await lock.lock(true);
  const raced = await found();
  if (raced) return raced;
  note("Installing PostgreSQL into the Synapse chroot (once).");
  // PostgreSQL runs as its own user, who must be able to enter the chroot at all.
  await Deno.chmod(root, 0o755);
  // Its packages' scripts need /proc (systemd-tmpfiles).
  await run("mount", ["-t", "proc", "proc", `${root}/proc`]);
  try {
    await run("chroot", [root, "apt-get", "update"], { env: CHROOT_ENV });
    await run(
      "chroot",
      [root, "apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
      { env: CHROOT_ENV },
    );
    await run("chroot", [root, "apt-get", "clean"], { env: CHROOT_ENV });
  } finally {
    // Not unmount(): the chroot keeps its /proc directory.
    await run("umount", ["--lazy", `${root}/proc`]);
  }
  const installed = await found();
  if (!installed) throw new CchatError(`No PostgreSQL server was installed in "${root}".`);
  return installed;
}

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
    // A temporary directory is the owner's only; the chroot's root is everyone's to enter.
    await Deno.chmod(tmp, 0o755);
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
