/**
 * queuectl: a background job queue for shell commands on Deno KV.
 * Entry point: runs the CLI and exits with its code (the only Deno.exit). A plain
 * `enqueue` takes a fast path that does not load the command tree.
 * @module
 */
import { processContext } from "./lib/cli/context.ts";

if (import.meta.main) {
  const ctx = processContext();
  let code: number | null = null;
  if (Deno.args[0] === "enqueue") {
    const { fastEnqueue } = await import("./lib/cli/fast_enqueue.ts");
    code = await fastEnqueue(ctx, Deno.args);
  }
  if (code === null) {
    const { runCli } = await import("./lib/cli/app.ts");
    code = await runCli(ctx, Deno.args);
  }
  Deno.exit(code);
}
