/** Figures for the benchmarks: order statistics and same-run ratios on noisy machines. */

export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of `values` (0 < q ≤ 1). */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) throw new Error("no samples");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summarize(values: number[]): Summary {
  return {
    n: values.length,
    median: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/**
 * Measures several contenders in alternating rounds (A B C, A B C, …) so that
 * drift in machine load hits them all alike; returns each one's samples in ms.
 */
export async function alternate(
  contenders: Record<string, () => Promise<void>>,
  rounds: number,
  warmup = 2,
): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(contenders).map((k) => [k, []]),
  );
  for (let round = 0; round < warmup + rounds; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      const started = performance.now();
      await run();
      if (round >= warmup) samples[name].push(performance.now() - started);
    }
  }
  return samples;
}

export const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
export const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
/** A distribution as the table shows it. */
export const spread = (x: Summary) => `p50 ${ms(x.median)}, p95 ${ms(x.p95)}`;
