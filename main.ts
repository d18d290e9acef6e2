/**
 * queuectl: a background job queue for shell commands on Deno KV.
 * Entry point: runs the CLI and exits with its code (the only Deno.exit). A plain
 * `enqueue`, `status`, `list` or `show` takes a fast path that does not load the command
 * tree.
 * @module
 */
import { processContext } from "./lib/cli/context.ts";
import { fastCommand } from "./lib/cli/fast.ts";

if (import.meta.main) {
  const ctx = processContext();
  let code: number | null = null;
  code = await fastCommand(ctx, Deno.args);
  if (code === null) {
    const { runCli } = await import("./lib/cli/app.ts");
    code = await runCli(ctx, Deno.args);
  }
  Deno.exit(code);
}
