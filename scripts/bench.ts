/** `deno task bench`: the benchmark suite is not written yet; this says so instead of failing. */
if (import.meta.main) {
  console.error("The benchmarks are not written yet: they arrive with the benchmarks issue.");
}
