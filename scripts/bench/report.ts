import { UsageError } from "../../src/errors.ts";

/** One row of the benchmark table: what was measured, the figure, the target, and whether it was met. */
export interface Row {
  section: string;
  metric: string;
  value: string;
  target?: string;
  met?: boolean;
  /** Raw numbers for --json. */
  data?: Record<string, unknown>;
}

export type Section = (context: BenchContext) => Promise<Row[]>;

export interface BenchContext {
  /** Base URL and shared secret of the limits-off bench homeserver. */
  baseUrl: string;
  serverName: string;
  registrationSecret: string;
  /** Samples per contender where a distribution is reported (at least 20). */
  samples: number;
  /** Progress on stderr. */
  note(message: string): void;
}

export function renderTable(rows: Row[]): string {
  const header = ["SECTION", "METRIC", "VALUE", "TARGET", "MET"];
  const cells = rows.map((r) => [
    r.section,
    r.metric,
    r.value,
    r.target ?? "",
    r.met === undefined ? "" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [header, ...cells].map((c) =>
    c.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()
  )
    .join("\n");
}

/** Fleet sizes from `variable` (comma-separated whole numbers), else `fallback`. */
export function sizesFromEnv(variable: string, fallback: number[]): number[] {
  const given = Deno.env.get(variable);
  if (given === undefined) return fallback;
  const sizes = given.split(",").map((size) => Number(size.trim()));
  if (sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new UsageError(`${variable} "${given}" is not a list of whole numbers of at least 1.`, {
      hint: `For example ${variable}=${fallback.join(",")}.`,
    });
  }
  return sizes;
}
