/**
 * `queuectl dashboard`: serves the web dashboard, JSON API and /metrics over the store
 * until Ctrl-C; loopback only unless a token guards it.
 * @module
 */
import { OperationError, UsageError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { openStore } from "../store/open.ts";
import { dashboardServe, isLoopback } from "../dashboard/server.ts";
import type { CliContext } from "./context.ts";
import { parseIntOption } from "./args.ts";

/** Options of `dashboard`. */
export interface DashboardCliOptions {
  port?: string;
  host?: string;
  token?: string;
  tokenFile?: string;
  open?: boolean;
}

/** The environment variable that may hold the dashboard's token (kept out of `ps`). */
export const TOKEN_ENV = "QUEUECTL_DASHBOARD_TOKEN";

const TOKEN_PATTERN = /^[\x21-\x7e]{8,256}$/;

/** A fresh random token: 24 bytes, base64url (32 characters). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** `dashboard`: prints the URL on stdout, serves until SIGINT/SIGTERM, returns 0. */
export async function dashboardAction(
  ctx: CliContext,
  paths: Paths,
  options: DashboardCliOptions,
): Promise<number> {
  const port = parseIntOption(options.port ?? "8080", "--port", { min: 0, max: 65535 });
  const host = (options.host ?? "127.0.0.1").trim();
  if (host === "" || /[\s/]/.test(host)) {
    throw new UsageError(`Invalid --host "${options.host}": expected an address or host name`);
  }
  let token = await givenToken(ctx, options);
  let generated = false;
  if (!token && !isLoopback(host)) {
    token = newToken();
    generated = true;
  }
  const kv = await openStore(paths);
  let dashboard;
  try {
    dashboard = dashboardServe({
      kv,
      paths,
      hostname: ctx.hostname(),
      host,
      port,
      token,
      onError: (error) => ctx.err(`dashboard: ${error instanceof Error ? error.stack : error}\n`),
    });
  } catch (error) {
    kv.close();
    throw listenError(error, host, port);
  }
  const link = token ? `${dashboard.url}#token=${encodeURIComponent(token)}` : dashboard.url;
  ctx.out(`${link}\n`);
  if (generated) {
    ctx.err(
      `Listening on ${host}, not loopback: API and /metrics need the token ${token}\n` +
        `(send "Authorization: Bearer <token>"; the link above carries it for the browser)\n`,
    );
  }
  ctx.err(
    `Dashboard at ${dashboard.url}  API ${dashboard.url}api/status  metrics ${dashboard.url}metrics\nPress Ctrl-C to stop\n`,
  );
  if (options.open) openBrowser(ctx, link);
  const stop = () => dashboard.shutdown();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    await dashboard.finished;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    kv.close();
  }
  return 0;
}

/**
 * The token given by `--token`, `--token-file` (trailing newline dropped) or $QUEUECTL_DASHBOARD_TOKEN,
 * in that order of precedence between the two flags and the variable; null when none is.
 */
async function givenToken(ctx: CliContext, options: DashboardCliOptions): Promise<string | null> {
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new UsageError("Give --token or --token-file, not both");
  }
  let token: string;
  let source: string;
  if (options.token !== undefined) [token, source] = [options.token, "--token"];
  else if (options.tokenFile !== undefined) {
    token = await readTokenFile(options.tokenFile);
    source = `--token-file "${options.tokenFile}"`;
  } else {
    const fromEnv = ctx.env(TOKEN_ENV);
    if (fromEnv === undefined || fromEnv === "") return null;
    [token, source] = [fromEnv, `$${TOKEN_ENV}`];
  }
  if (!TOKEN_PATTERN.test(token)) {
    throw new UsageError(`Invalid ${source}: expected 8-256 printable characters without spaces`);
  }
  return token;
}

/** A token file's content without its trailing newline (as `openssl rand -hex 16 > f` writes). */
async function readTokenFile(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).replace(/\r?\n$/, "");
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
    throw new UsageError(`Cannot read --token-file "${path}": ${why}`);
  }
}

/** Tries xdg-open, then open; says so when neither exists. Does not wait for the browser. */
function openBrowser(ctx: CliContext, url: string): void {
  for (const opener of ["xdg-open", "open"]) {
    try {
      const child = new Deno.Command(opener, {
        args: [url],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      child.status.catch(() => {});
      return;
    } catch {
      // try the next one
    }
  }
  ctx.err(`No xdg-open or open here: open ${url} in a browser\n`);
}

function listenError(error: unknown, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new OperationError(`Cannot listen on ${where}: address in use (try --port 0)`);
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new OperationError(
      `Cannot listen on ${where}: network permission missing (run deno with --allow-net)`,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new OperationError(`Cannot listen on ${where}: ${message.split("\n")[0]}`);
}
