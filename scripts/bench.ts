/**
 * `deno task bench [--only a,b] [--samples N] [--json FILE]`: measures cchat
 * on the local homeserver and prints one table. Comparisons are ratios taken in
 * the same run, with alternating samples, because the machines are noisy.
 */
import { parseArgs } from "node:util";
import { ExitCode, UsageError } from "../src/errors.ts";
import { cchatCacheDir, startHomeserver } from "../harness/homeserver/mod.ts";
import { runScript } from "../harness/script.ts";
import { type BenchContext, renderTable, type Row, type Section } from "./bench/report.ts";
import { run as agents } from "./bench/agents.ts";
import { run as boot } from "./bench/boot.ts";
import { run as db } from "./bench/db.ts";
import { run as appservice } from "./bench/appservice.ts";
import { run as filter } from "./bench/filter.ts";
import { run as fleetmem } from "./bench/fleetmem.ts";
import { run as load } from "./bench/load.ts";
import { run as memory } from "./bench/memory.ts";
import { run as receive } from "./bench/receive.ts";
import { run as send } from "./bench/send.ts";
import { run as startup } from "./bench/startup.ts";
import { run as who } from "./bench/who.ts";

/** In the order they run: the mass boot, which restarts servers, last. */
const SECTIONS: Record<string, Section> = {
  startup,
  send,
  receive,
  agents,
  who,
  filter,
  memory,
  fleetmem,
  load,
  db,
  boot,
  appservice,
};

const BENCH_PORT = 18460;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      samples: { type: "string", default: "20" },
      json: { type: "string" },
    },
  });
  const only = values.only?.split(",").map((s) => s.trim()) ?? Object.keys(SECTIONS);
  const unknown = only.filter((name) => !(name in SECTIONS));
  if (unknown.length) {
    throw new UsageError(
      `Unknown section "${unknown[0]}". Sections: ${Object.keys(SECTIONS).join(", ")}.`,
    );
  }
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples < 1) {
    throw new UsageError(`--samples "${values.samples}" is not a whole number of at least 1.`);
  }
  const server = await startHomeserver({
    dataDir: `${cchatCacheDir()}/bench-homeserver/fast`,
    port: BENCH_PORT,
    limits: "off",
  });
  const context: BenchContext = {
    baseUrl: server.baseUrl,
    serverName: server.serverName,
    registrationSecret: server.registrationSecret,
    samples,
    note: (message) => console.error(message),
  };
  const machine = `${navigator.hardwareConcurrency} cores, ${
    Math.round(Deno.systemMemoryInfo().total / 2 ** 30)
  } GiB, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}`;
  const rows: Row[] = [];
  for (const name of only) {
    context.note(`== ${name}`);
    rows.push(...await SECTIONS[name](context));
  }
  console.log(`cchat benchmarks on ${machine}\n`);
  console.log(renderTable(rows));
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2) + "\n",
    );
    console.error(`Wrote ${values.json}.`);
  }
  return ExitCode.ok;
}

if (import.meta.main) await runScript(main);
