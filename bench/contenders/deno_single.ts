// Contender: one isolate, `Deno.serve`. Usage: deno run -A deno_single.ts PORT
import handler from "../handlers/handler.ts";

const port = Number(Deno.args[0] ?? "8000");
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler.fetch);
