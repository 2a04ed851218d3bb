/**
 * Figures 1 and 7: what one `cchat send --to B` costs as a whole process of
 * the bundle users run, against a bare curl PUT (the floor) and a one-shot
 * matrix-nio client (the peer), with cchat's start-up and the Deno runtime's
 * beside them.
 */
import { textContent } from "../../src/matrix/client.ts";
import { agentCli, buildBundle, CCHAT_BUNDLE, CCHAT_PERMISSIONS } from "../../harness/cli.ts";
import { freshUser, uniquePrefix } from "../../harness/users.ts";
import { curlPut } from "./floor.ts";
import type { Row, Section } from "./report.ts";
import { alternate, ms, ratio, spread, summarize, type Summary } from "./stats.ts";
import { run as runCommand } from "../../harness/homeserver/launchers.ts";

/** Debian's interpreter: the package installs nio there, not into a pyenv one. */
const PYTHON = "/usr/bin/python3";
const TARGET_RATIO = 1.5;

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
    const deno = Deno.execPath();

    // A contender is one whole process, run to a clean exit.
    const spawn = (command: string, args: string[], env?: Record<string, string>) => async () => {
      await runCommand(command, args, { env });
    };
    context.note(`send: ${context.samples} alternating rounds of 5 processes`);
    const samples = await alternate({
      cchat: spawn(deno, [...CCHAT_BUNDLE, "send", "--to", "b", body], cchatEnv),
      // A fresh transaction id per run, or the server would answer with the first event.
      curl: () => curlPut(header, content, sendUrl(crypto.randomUUID())),
      nio: spawn(PYTHON, ["-c", NIO_SEND], nioEnv),
      help: spawn(deno, [...CCHAT_BUNDLE, "--help"]),
      empty: spawn(deno, ["run", ...CCHAT_PERMISSIONS, empty]),
    }, context.samples);
    return rows({
      cchat: summarize(samples.cchat),
      curl: summarize(samples.curl),
      nio: summarize(samples.nio),
      help: summarize(samples.help),
      empty: summarize(samples.empty),
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
};

function rows(s: Record<"cchat" | "curl" | "nio" | "help" | "empty", Summary>): Row[] {
  const vsCurl = s.cchat.median / s.curl.median;
  const met = vsCurl <= TARGET_RATIO;
  // Where cchat's time goes: start-up (--help) splits into the runtime and loading cchat.
  const why = `start-up: cchat --help takes ${ms(s.help.median)} at p50, ${
    ms(s.empty.median)
  } of it the Deno runtime running an empty script and ${
    ms(s.help.median - s.empty.median)
  } loading cchat; the send after start-up takes ${
    ms(s.cchat.median - s.help.median)
  } against curl's whole ${ms(s.curl.median)}`;
  return [
    {
      section: "send",
      metric: "cchat send --to B (process)",
      value: spread(s.cchat),
      data: { ...s.cchat },
    },
    {
      section: "send",
      metric: "curl PUT, the floor (process)",
      value: spread(s.curl),
      data: { ...s.curl },
    },
    {
      section: "send",
      metric: "matrix-nio room_send, the peer (process)",
      value: spread(s.nio),
      data: { ...s.nio },
    },
    {
      section: "send",
      metric: "cchat/curl at p50",
      value: ratio(s.cchat.median, s.curl.median),
      target: `≤ ${TARGET_RATIO}×`,
      met,
      data: { ratio: vsCurl, ...(met ? {} : { why }) },
    },
    {
      section: "send",
      metric: "cchat/nio at p50",
      value: ratio(s.cchat.median, s.nio.median),
      data: { ratio: s.cchat.median / s.nio.median },
    },
    {
      section: "send",
      metric: "cchat --help start-up",
      value: spread(s.help),
      data: { ...s.help },
    },
    {
      section: "send",
      metric: "deno run of an empty script",
      value: spread(s.empty),
      data: { ...s.empty },
    },
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
