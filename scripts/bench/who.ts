/**
 * Figure 3: `cchat who` as a whole process at 1, 10, 100, 200 and 400 agents,
 * and the requests it makes, traced in-process, to show which of them grow
 * with N and whether they wait for each other.
 */
import { runCli } from "../../src/cli.ts";
import { realDeps } from "../../src/deps.ts";
import { agentCli, CCHAT } from "../../harness/cli.ts";
import { Fleet } from "./fleet.ts";
import type { Row, Section } from "./report.ts";
import { alternate, ms, ratio, summarize, type Summary } from "./stats.ts";
import { run as runCommand } from "../../harness/homeserver/launchers.ts";

const SIZES = [1, 10, 100, 200, 400];
/** Allowed growth of the whole-process median from 1 to 400 agents. */
const MAX_RATIO = 6;
/** Allowed sequential round trips, whatever the number of agents. */
const MAX_ROUND_TRIPS = 3;

/**
 * `cchat who` as a whole process, like `runCommand` but with CCHAT_DEBUG=1,
 * whose stderr tells how many times the server rate limited the run.
 */
async function whoProcess(env: Record<string, string>): Promise<number> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...CCHAT, "who"],
    env: { ...env, CCHAT_DEBUG: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`"cchat who" exited ${code}: ${text.trim()}`);
  return text.match(/: rate limited, waiting/g)?.length ?? 0;
}

interface Traced {
  method: string;
  path: string;
  status: number;
  startMs: number;
  endMs: number;
}

/**
 * Requests that overlap in time are one round trip; the number of disjoint
 * clusters is the number of round trips a reader waits for one after another.
 */
function sequentialRoundTrips(requests: Traced[]): number {
  let rounds = 0;
  let end = -Infinity;
  for (const request of [...requests].sort((a, b) => a.startMs - b.startMs)) {
    if (request.startMs >= end) rounds++;
    end = Math.max(end, request.endMs);
  }
  return rounds;
}

/** Runs `--json who` in this process with a fetch that records every request; checks the count. */
async function traceWho(
  env: Record<string, string>,
  labels: Map<string, string>,
  expectedAgents: number,
): Promise<Traced[]> {
  const requests: Traced[] = [];
  const origin = performance.now();
  const deps = realDeps();
  let stdout = "";
  const recording = async (input: RequestInfo | URL, init?: RequestInit) => {
    const startMs = performance.now() - origin;
    const response = await deps.fetch(input, init);
    // The body is part of the round trip: read it here and hand back a copy.
    const body = await response.arrayBuffer();
    const url = new URL(input instanceof Request ? input.url : input);
    let path = decodeURIComponent(url.pathname).replace("/_matrix/client", "");
    for (const [id, label] of labels) path = path.replaceAll(id, label);
    // Every agent's room and user read alike: one key for the whole wave.
    path = path.replace(/![^/]+/g, "{room}").replace(/@[^/]+/g, "{user}");
    requests.push({
      method: init?.method ?? "GET",
      path,
      status: response.status,
      startMs,
      endMs: performance.now() - origin,
    });
    return new Response(body, response);
  };
  const code = await runCli(["who", "--json", "--all"], {
    ...deps,
    fetch: recording as typeof fetch,
    env: (name) => env[name] ?? Deno.env.get(name),
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: () => {} },
  });
  const listed = (JSON.parse(stdout) as { agents: unknown[] }).agents.length;
  if (code !== 0 || listed !== expectedAgents) {
    throw new Error(`who exited ${code} and listed ${listed} agents, not ${expectedAgents}`);
  }
  return requests;
}

/** How often each request (method and path) occurs in a trace. */
function requestCounts(trace: Traced[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of trace) {
    counts.set(`${r.method} ${r.path}`, (counts.get(`${r.method} ${r.path}`) ?? 0) + 1);
  }
  return counts;
}

interface SizeResult {
  agents: number;
  who: Summary;
  help: Summary;
  net: Summary;
  /** Timed runs in which the server answered 429 at least once. */
  rateLimitedRuns: number;
  roundTrips: number;
  counts: Map<string, number>;
  requests: string[];
}

export const run: Section = async (context) => {
  const fleet = new Fleet(context);
  const sizes: SizeResult[] = [];
  for (const size of SIZES) {
    const started = performance.now();
    await fleet.grow(size);
    context.note(`who: ${size} agent(s) registered in ${ms(performance.now() - started)}`);
    const { user, agents: [{ name }] } = fleet.members[0];
    await using agent = await agentCli(context, user, name, { prefix: fleet.prefix });
    const { spaceId, lobbyId } = fleet.directory;
    const labels = new Map([
      [spaceId, "{space}"],
      [lobbyId, "{lobby}"],
      [`#${fleet.prefix}-lobby:${context.serverName}`, "#{lobby}"],
      [`#${fleet.prefix}:${context.serverName}`, "#{space}"],
    ]);
    const trace = await traceWho(agent.env, labels, size);
    const limited: number[] = [];
    const samples = await alternate({
      help: async () =>
        void await runCommand(Deno.execPath(), [...CCHAT, "--help"], { env: agent.env }),
      who: async () => void limited.push(await whoProcess(agent.env)),
    }, context.samples);
    // Warm-up rounds are not samples; their rate limits are not counted either.
    const rateLimitedRuns = limited.slice(-samples.who.length).filter((n) => n > 0).length;
    const who = summarize(samples.who);
    // Paired by round, so drift in machine load cancels out of the difference.
    const net = summarize(samples.who.map((value, i) => value - samples.help[i]));
    sizes.push({
      agents: size,
      who,
      help: summarize(samples.help),
      net,
      rateLimitedRuns,
      roundTrips: sequentialRoundTrips(trace),
      counts: requestCounts(trace),
      requests: trace.map((r) =>
        `${r.method} ${r.path} ${r.status} @${r.startMs.toFixed(0)}-${r.endMs.toFixed(0)} ms`
      ),
    });
    context.note(
      `who: ${size} agent(s): median ${ms(who.median)}, net of --help ${ms(net.median)}, ` +
        `${trace.length} requests in ${sequentialRoundTrips(trace)} sequential round trips, ` +
        `rate limited in ${rateLimitedRuns} runs`,
    );
  }

  const [first] = sizes;
  const last = sizes[sizes.length - 1];
  const rows: Row[] = sizes.map((s) => ({
    section: "who",
    metric: `who, ${s.agents} agent${s.agents === 1 ? "" : "s"} (median / p95)`,
    value: `${ms(s.who.median)} / ${ms(s.who.p95)}, ${ratio(s.who.median, first.who.median)}; ` +
      `net of --help ${ms(s.net.median)} / ${ms(s.net.p95)}` +
      (s.rateLimitedRuns ? `; 429 in ${s.rateLimitedRuns}/${s.who.n} runs` : ""),
    ...(s === last
      ? {
        target: `≤ ${MAX_RATIO}× of 1 agent`,
        met: s.who.median / first.who.median <= MAX_RATIO,
      }
      : {}),
    data: {
      agents: s.agents,
      who: s.who,
      help: s.help,
      whoMinusHelp: s.net,
      rateLimitedRuns: s.rateLimitedRuns,
    },
  }));
  const grows = sizes.some((s) =>
    s.roundTrips > first.roundTrips || s.roundTrips > MAX_ROUND_TRIPS
  );
  // Which requests multiply between the smallest and the largest fleet.
  const grown = [...last.counts].filter(([key, n]) => n > (first.counts.get(key) ?? 0))
    .map(([key, n]) => `${key} ×${first.counts.get(key) ?? 0}→${n}`);
  rows.push({
    section: "who",
    metric: "who sequential round trips",
    value: sizes.map((s) => `${s.roundTrips} at ${s.agents}`).join(", ") +
      (grown.length ? `; grows: ${grown.join(", ")}` : ""),
    target: `constant in N, ≤ ${MAX_ROUND_TRIPS}`,
    met: !grows,
    data: {
      grown,
      sizes: Object.fromEntries(
        sizes.map((s) => [s.agents, { roundTrips: s.roundTrips, requests: s.requests }]),
      ),
    },
  });
  return rows;
};
