/**
 * Start-up: `cchat --help` from the bundle users run, against the Deno runtime
 * running an empty script, with the same permissions, in alternating rounds.
 * The same from source shows what the bundle saves.
 */
import { buildBundle, CCHAT, CCHAT_BUNDLE, CCHAT_RUN_FLAGS } from "../../harness/cli.ts";
import { run as runCommand } from "../../harness/homeserver/launchers.ts";
import type { Row, Section } from "./report.ts";
import { alternate, ratio, spread, summarize } from "./stats.ts";

const TARGET_RATIO = 1.3;

export const run: Section = async (context) => {
  await buildBundle();
  const tmp = await Deno.makeTempDir({ prefix: "cchat-bench-startup-" });
  try {
    const empty = `${tmp}/empty.ts`;
    await Deno.writeTextFile(empty, "");
    const deno = Deno.execPath();
    const process = (args: string[]) => () => runCommand(deno, args).then(() => {});
    context.note(`startup: ${context.samples * 5} alternating rounds of 3 processes`);
    const samples = await alternate({
      bundle: process([...CCHAT_BUNDLE, "--help"]),
      source: process([...CCHAT, "--help"]),
      empty: process(["run", ...CCHAT_RUN_FLAGS, empty]),
    }, context.samples * 5);
    const [bundle, source, floor] = [samples.bundle, samples.source, samples.empty].map(summarize);
    const vsFloor = bundle.median / floor.median;
    return [
      {
        section: "startup",
        metric: "cchat --help (bundle)",
        value: spread(bundle),
        data: { ...bundle },
      },
      {
        section: "startup",
        metric: "cchat --help (source)",
        value: spread(source),
        data: { ...source },
      },
      {
        section: "startup",
        metric: "deno run of an empty script, the floor",
        value: spread(floor),
        data: { ...floor },
      },
      {
        section: "startup",
        metric: "cchat --help / floor at p50",
        value: ratio(bundle.median, floor.median),
        target: `≤ ${TARGET_RATIO}×`,
        met: vsFloor <= TARGET_RATIO,
        data: { ratio: vsFloor, source_ratio: source.median / floor.median },
      },
    ] satisfies Row[];
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
};
