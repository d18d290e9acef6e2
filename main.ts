/**
 * queuectl: a background job queue for shell commands on Deno KV.
 * Entry point: runs the CLI and exits with its code (the only Deno.exit).
 * @module
 */
import { runCli } from "./lib/cli/app.ts";
import { processContext } from "./lib/cli/context.ts";

if (import.meta.main) {
  Deno.exit(await runCli(processContext(), Deno.args));
}
