import { mcpServer } from "./src/mcp/server.ts";
import { silentLogger } from "./src/log.ts";
const h = mcpServer({ deps: {} as never, log: silentLogger });
// deno-lint-ignore no-explicit-any
const handler = (h.server as any)._requestHandlers.get("tools/list");
const r = await handler({ method: "tools/list", params: {} }, {});
console.log(JSON.stringify(r).length);
for (const t of r.tools) console.log(JSON.stringify(t));
