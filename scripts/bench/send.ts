/**
 * Figures 1 and 7: what one `cchat send --to B` costs as a whole process of
 * the bundle users run, against a `deno run` of a script making the same one
 * PUT (the floor: the same runtime, nothing of cchat), a bare curl PUT and a
 * one-shot matrix-nio client (the peer), with cchat's start-up and the Deno
 * runtime's beside them; and what a hook costs when there is nothing to say.
 */
import { textContent } from "../../src/matrix/client.ts";
import { agentCli, buildBundle, CCHAT_BUNDLE, CCHAT_RUN_FLAGS } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { curlPut } from "./floor.ts";
import type { Row, Section } from "./report.ts";
import { alternate, ms, ratio, spread, summarize, type Summary } from "./stats.ts";
import { run as runCommand } from "../../harness/homeserver/launchers.ts";

/** Debian's interpreter: the package installs nio there, not into a pyenv one. */
const PYTHON = "/usr/bin/python3";
/** `cchat send --to` against the deno floor. */
const TARGET_RATIO = 1.3;
/** A hook with nothing unread against an empty `deno run`. */
const HOOK_TARGET_RATIO = 1.2;

/** One PUT and nothing else, as a script the runtime runs; what it sends comes from the environment. */
const DENO_PUT = `
const env = Deno.env.toObject();
const response = await fetch(\`\${env.BENCH_SEND_URL}/\${crypto.randomUUID()}\`, {
  method: "PUT",
  headers: { authorization: \`Bearer \${env.BENCH_ACCESS_TOKEN}\`, "content-type": "application/json" },
  body: env.BENCH_CONTENT,
});
await response.body?.cancel();
if (!response.ok) throw new Error(\`PUT failed: \${response.status}\`);
`;

/** What Claude Code hands a hook as a prompt is submitted. */
const HOOK_INPUT = JSON.stringify({
  hook_event_name: "UserPromptSubmit",
  session_id: "bench",
  prompt: "go on",
});

/** A one-shot nio client; everything secret or variable comes from the environment. */
const NIO_SEND = `
import asyncio, json, os, sys
from nio import AsyncClient, RoomSendResponse

async def main():
    env = os.environ
    client = AsyncClient(env["BENCH_HOMESERVER"], env["BENCH_USER_ID"])
    client.access_token = env["BENCH_ACCESS_TOKEN"]
    client.device_id = env["BENCH_DEVICE_ID"]
    try:
        answer = await client.room_send(
            env["BENCH_ROOM_ID"], "m.room.message", json.loads(env["BENCH_CONTENT"])
        )
    finally:
        await client.close()
    if not isinstance(answer, RoomSendResponse):
        sys.exit(f"room_send failed: {answer}")

asyncio.run(main())
`;

export const run: Section = async (context) => {
  await ensureNio(context.note);
  await buildBundle();
  const prefix = uniquePrefix();
  await using receiver = await agentCli(context, await freshUser(context, "benchb"), "b", {
    prefix,
  });
  await using sender = await agentCli(context, await freshUser(context, "bencha"), "a", {
    prefix,
  });
  context.note("send: registering B and warming A's cache");
  await cchatOk(receiver.run(["heartbeat"]), "heartbeat as B");
  // B's room is restricted to Space members: A must be a registered agent to join it.
  await cchatOk(sender.run(["heartbeat"]), "heartbeat as A");
  const first = JSON.parse(
    await cchatOk(sender.run(["send", "--json", "--to", "b", "x"]), "the first send as A"),
  ) as { room_id: string };
  const roomId = first.room_id;

  const body = "bench: a message of ordinary length, about one line of text";
  const content = JSON.stringify(textContent({ body }));
  const tmp = await Deno.makeTempDir({ prefix: "cchat-bench-send-" });
  try {
    // curl reads the token from a private file: argv is visible to every user in ps.
    const header = `${tmp}/authorization`;
    await Deno.writeTextFile(header, `Authorization: Bearer ${sender.user.accessToken}\n`, {
      mode: 0o600,
    });
    const empty = `${tmp}/empty.ts`;
    await Deno.writeTextFile(empty, "");
    const put = `${tmp}/put.ts`;
    await Deno.writeTextFile(put, DENO_PUT);
    const sendUrl = (txn: string) =>
      `${context.baseUrl}/_matrix/client/v3/rooms/${
        encodeURIComponent(roomId)
      }/send/m.room.message/${txn}`;
    const nioEnv = {
      BENCH_HOMESERVER: context.baseUrl,
      BENCH_USER_ID: sender.user.userId,
      BENCH_ACCESS_TOKEN: sender.user.accessToken,
      BENCH_DEVICE_ID: sender.user.deviceId,
      BENCH_ROOM_ID: roomId,
      BENCH_CONTENT: content,
    };
    const cchatEnv = { NO_COLOR: "1", ...sender.env };
    const putEnv = {
      BENCH_SEND_URL: sendUrl("").slice(0, -1),
      BENCH_ACCESS_TOKEN: sender.user.accessToken,
      BENCH_CONTENT: content,
    };
    const deno = Deno.execPath();

    // A contender is one whole process, run to a clean exit.
    const spawn = (command: string, args: string[], env?: Record<string, string>) => async () => {
      await runCommand(command, args, { env });
    };
    context.note(`send: ${context.samples} alternating rounds of 7 processes`);
    const samples = await alternate({
      cchat: spawn(deno, [...CCHAT_BUNDLE, "send", "--to", "b", body], cchatEnv),
      denoPut: spawn(deno, ["run", ...CCHAT_RUN_FLAGS, put], putEnv),
      // The sender's inbox is empty: the hook has nothing to say.
      hook: async () =>
        void await runCommand(deno, [...CCHAT_BUNDLE, "hook", "UserPromptSubmit"], {
          env: cchatEnv,
          stdin: HOOK_INPUT,
        }),
      // A fresh transaction id per run, or the server would answer with the first event.
      curl: () => curlPut(header, content, sendUrl(crypto.randomUUID())),
      nio: spawn(PYTHON, ["-c", NIO_SEND], nioEnv),
      help: spawn(deno, [...CCHAT_BUNDLE, "--help"]),
      empty: spawn(deno, ["run", ...CCHAT_RUN_FLAGS, empty]),
    }, context.samples);
    return rows({
      cchat: summarize(samples.cchat),
      denoPut: summarize(samples.denoPut),
      hook: summarize(samples.hook),
      curl: summarize(samples.curl),
      nio: summarize(samples.nio),
      help: summarize(samples.help),
      empty: summarize(samples.empty),
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
};

type Contender = "cchat" | "denoPut" | "hook" | "curl" | "nio" | "help" | "empty";

function rows(s: Record<Contender, Summary>): Row[] {
  // Where cchat's time goes: start-up (--help) splits into the runtime and loading cchat.
  const why = `start-up: cchat --help takes ${ms(s.help.median)} at p50, ${
    ms(s.empty.median)
  } of it the Deno runtime running an empty script and ${
    ms(s.help.median - s.empty.median)
  } loading cchat; the send after start-up takes ${
    ms(s.cchat.median - s.help.median)
  } against the floor's ${ms(s.denoPut.median - s.empty.median)} after the runtime's start`;
  /** A contender's whole process, in milliseconds. */
  const timing = (metric: string, summary: Summary): Row => ({
    section: "send",
    metric,
    value: spread(summary),
    data: { ...summary },
  });
  /** One contender's p50 over another's, with the target when there is one. */
  const versus = (metric: string, a: Summary, b: Summary, target?: number, why?: string): Row => {
    const value = a.median / b.median;
    const met = target === undefined ? undefined : value <= target;
    return {
      section: "send",
      metric,
      value: ratio(a.median, b.median),
      ...(target === undefined ? {} : { target: `≤ ${target}×`, met }),
      data: { ratio: value, ...(met === false && why ? { why } : {}) },
    };
  };
  return [
    timing("cchat send --to B (process)", s.cchat),
    timing("deno run of one fetch PUT, the floor (process)", s.denoPut),
    timing("curl PUT (process)", s.curl),
    timing("matrix-nio room_send, the peer (process)", s.nio),
    versus("cchat/deno floor at p50", s.cchat, s.denoPut, TARGET_RATIO, why),
    versus("cchat/curl at p50", s.cchat, s.curl),
    timing("cchat hook, nothing unread (process)", s.hook),
    versus("hook/empty deno run at p50", s.hook, s.empty, HOOK_TARGET_RATIO),
    versus("cchat/nio at p50", s.cchat, s.nio),
    timing("cchat --help start-up", s.help),
    timing("deno run of an empty script", s.empty),
  ];
}

async function cchatOk(
  result: Promise<{ code: number; stdout: string; stderr: string }>,
  what: string,
): Promise<string> {
  const { code, stdout, stderr } = await result;
  if (code !== 0) throw new Error(`${what} exited ${code}: ${stderr.trim()}`);
  return stdout;
}

/** Installs Debian's matrix-nio when the system python lacks it, refreshing the index only if needed. */
async function ensureNio(note: (message: string) => void): Promise<void> {
  const hasNio = () => runCommand(PYTHON, ["-c", "import nio"]).then(() => true, () => false);
  if (await hasNio()) return;
  note("send: installing python3-matrix-nio, the peer");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () => runCommand("apt-get", ["install", "-y", "python3-matrix-nio"], { env });
  await install().catch(async () => {
    await runCommand("apt-get", ["update"], { env });
    await install();
  });
  if (!await hasNio()) {
    throw new Error(`python3-matrix-nio is installed but ${PYTHON} cannot import nio.`);
  }
}
