/**
 * The import graph of src/, as Deno resolves it: layers import only
 * downwards, nothing runs in a cycle, and the readers of the data file reach
 * no part of the Matrix client.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Lower first; the files at the top of src/ are the base every layer may use. */
const LAYERS = ["matrix", "store", "space", "daemon", "ops", "faces"];
const FACES = new Set(["commands", "mcp", "cli.ts"]);

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** Each module of src/ (relative to it) and the modules of src/ it imports. */
async function importGraph(entry: string): Promise<Map<string, string[]>> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(code, 0, "deno info failed");
  const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
  const local = (specifier: string | undefined) =>
    specifier?.startsWith("file://") && fileURLToPath(specifier).startsWith(SRC)
      ? fileURLToPath(specifier).slice(SRC.length)
      : undefined;
  const graph = new Map<string, string[]>();
  for (const module of modules) {
    const from = local(module.specifier);
    if (from === undefined) continue;
    const targets = (module.dependencies ?? []).flatMap((d) => [d.code, d.type])
      .map((d) => local(d?.specifier)).filter((target) => target !== undefined);
    graph.set(from, [...new Set(targets)]);
  }
  return graph;
}

/** The layer of a file of src/: -1 for the base. */
function layerOf(path: string): number {
  const top = path.split("/")[0];
  if (FACES.has(top)) return LAYERS.indexOf("faces");
  if (!path.includes("/")) return -1;
  const layer = LAYERS.indexOf(top);
  assert.notEqual(layer, -1, `"${path}" is in no known layer`);
  return layer;
}

function reachable(graph: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const next = todo.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    todo.push(...graph.get(next) ?? []);
  }
  return seen;
}

Deno.test("the layers of src/", async (t) => {
  const graph = await importGraph(fileURLToPath(new URL("../main.ts", import.meta.url)));
  assert.ok(graph.size > 50, `only ${graph.size} modules found`);

  await t.step("every import goes down a layer or stays in it", () => {
    const upward = [...graph].flatMap(([from, targets]) =>
      targets.filter((to) => layerOf(to) > layerOf(from)).map((to) => `${from} → ${to}`)
    );
    assert.deepEqual(upward, []);
  });

  await t.step("no module takes part in an import cycle", () => {
    const cycles = [...graph.keys()].filter((from) =>
      (graph.get(from) ?? []).some((to) => to !== from && reachable(graph, to).has(from))
    );
    assert.deepEqual(cycles, []);
  });

  await t.step("the readers of the data file reach no part of the Matrix client", () => {
    for (
      const reader of ["ops/inbox.ts", "ops/briefing.ts", "commands/inbox.ts", "commands/hook.ts"]
    ) {
      assert.ok(graph.has(reader), reader);
      const matrix = [...reachable(graph, reader)].filter((path) => path.startsWith("matrix/"));
      assert.deepEqual(matrix, [], reader);
    }
  });
});
