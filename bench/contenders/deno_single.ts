// Contender: one isolate, `Deno.serve`. Usage:
//   deno run -A deno_single.ts PORT [HANDLER_MODULE]
// HANDLER_MODULE (a path) defaults to ../handlers/handler.ts.
const port = Number(Deno.args[0] ?? "8000");
const module = Deno.args[1] === undefined
  ? new URL("../handlers/handler.ts", import.meta.url)
  : new URL(Deno.args[1], `file://${Deno.cwd()}/`);
const handler = (await import(module.href)).default as Deno.ServeDefaultExport;
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler.fetch);
