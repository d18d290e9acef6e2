/**
 * The dashboard's HTTP server (Deno.serve): routes the page, the JSON API and /metrics,
 * and guards them: Host check on loopback (DNS rebinding), the token, and same-origin
 * mutations only.
 * @module
 */
import type { Paths } from "../paths.ts";
import { firstLine } from "../errors.ts";
import {
  apiEdit,
  ApiError,
  apiJob,
  apiJobs,
  apiRemove,
  apiRetry,
  apiRetryAll,
  apiSchedules,
  apiStatus,
} from "./api.ts";
import { METRICS_CONTENT_TYPE, metricsRead, metricsText } from "./metrics.ts";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "./page.ts";

/** What the server needs: the open store and how to listen. */
export interface DashboardOptions {
  kv: Deno.Kv;
  paths: Paths;
  /** This machine's name as workers record it (to drop records of dead local workers). */
  hostname: string;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Required on /api/* and /metrics when set; mandatory for a non-loopback host. */
  token: string | null;
  /** Called with errors the server answered 500 to. */
  onError?: (error: unknown) => void;
}

/** A running dashboard. */
export interface Dashboard {
  /** The base URL, e.g. `http://127.0.0.1:8080/` (no token in it). */
  url: string;
  port: number;
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
  /** Stops accepting requests and waits for the ones in flight. */
  shutdown(): Promise<void>;
}

/** Reports whether a host name or address is this machine's loopback. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Starts the server, listening when it returns. Throws when a token is needed and missing. */
export function dashboardServe(options: DashboardOptions): Dashboard {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host) && !options.token) {
    throw new Error(`A token is required to listen on "${host}" (not a loopback address)`);
  }
  const guard: Guard = { allowedHosts: null, token: options.token };
  const handler = dashboardHandler({ ...options, guard });
  const server = Deno.serve({ hostname: host, port: options.port, onListen: () => {} }, handler);
  const port = server.addr.port;
  if (!options.token) guard.allowedHosts = loopbackHosts(host, port);
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}

/** Security settings fixed once the port is known. */
interface Guard {
  /** Host header values accepted; null accepts any (a token protects the server). */
  allowedHosts: Set<string> | null;
  token: string | null;
}

/** The Host header values a loopback-only server answers to. */
function loopbackHosts(host: string, port: number): Set<string> {
  const names = ["127.0.0.1", "localhost", "[::1]", host.includes(":") ? `[${host}]` : host];
  const hosts = new Set(names.map((n) => `${n}:${port}`));
  if (port === 80) { for (const n of names) hosts.add(n); }
  return hosts;
}

type Handler = (request: Request, params: string[]) => Promise<Response> | Response;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
  /** Needs the token (when one is set). */
  guarded: boolean;
}

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function dashboardHandler(
  options: DashboardOptions & { guard: Guard },
): (request: Request) => Promise<Response> {
  const { kv, paths, guard } = options;
  const page = (body: string, type: string) => () =>
    new Response(body, { headers: pageHeaders(type) });
  const routes: Route[] = [
    { pattern: /^\/$/, methods: { GET: page(PAGE_HTML, "text/html") }, guarded: false },
    {
      pattern: /^\/app\.js$/,
      methods: { GET: page(PAGE_JS, "text/javascript") },
      guarded: false,
    },
    { pattern: /^\/app\.css$/, methods: { GET: page(PAGE_CSS, "text/css") }, guarded: false },
    {
      pattern: /^\/metrics$/,
      methods: {
        GET: async () =>
          new Response(
            metricsText(await metricsRead(kv, { host: options.hostname, now: new Date() })),
            { headers: { ...COMMON_HEADERS, "content-type": METRICS_CONTENT_TYPE } },
          ),
      },
      guarded: true,
    },
    {
      pattern: /^\/api\/status$/,
      methods: {
        GET: async () =>
          json(200, await apiStatus(kv, { host: options.hostname, now: new Date() })),
      },
      guarded: true,
    },
    {
      pattern: /^\/api\/schedules$/,
      methods: { GET: async () => json(200, await apiSchedules(kv)) },
      guarded: true,
    },
    {
      pattern: /^\/api\/jobs$/,
      methods: { GET: async (req) => json(200, await apiJobs(kv, new URL(req.url).searchParams)) },
      guarded: true,
    },
    {
      pattern: /^\/api\/jobs\/([^/]+)$/,
      methods: {
        GET: async (_req, [id]) => json(200, await apiJob(kv, id)),
        DELETE: async (_req, [id]) => json(200, await apiRemove(kv, paths, id)),
        PATCH: async (req, [id]) => json(200, await apiEdit(kv, id, await jsonBody(req))),
      },
      guarded: true,
    },
    {
      pattern: /^\/api\/jobs\/([^/]+)\/retry$/,
      methods: { POST: async (_req, [id]) => json(200, await apiRetry(kv, id)) },
      guarded: true,
    },
    {
      pattern: /^\/api\/dlq\/retry-all$/,
      methods: { POST: async () => json(200, await apiRetryAll(kv)) },
      guarded: true,
    },
  ];

  return async (request) => {
    try {
      const url = new URL(request.url);
      const hostHeader = (request.headers.get("host") ?? "").toLowerCase();
      if (guard.allowedHosts && !guard.allowedHosts.has(hostHeader)) {
        throw new ApiError(
          403,
          `Unexpected Host "${hostHeader}": this dashboard answers only to ${
            [...guard.allowedHosts][0]
          } (DNS rebinding protection)`,
        );
      }
      const route = routes.find((r) => r.pattern.test(url.pathname));
      if (!route) throw new ApiError(404, `No such endpoint: ${url.pathname}`);
      const isHead = request.method === "HEAD";
      const method = isHead ? "GET" : request.method;
      const handle = route.methods[method];
      if (!handle) {
        const allowed = Object.keys(route.methods);
        if (allowed.includes("GET")) allowed.push("HEAD");
        return json(405, {
          error: `Method ${request.method} is not allowed on ${url.pathname}: use ${
            allowed.join(" or ")
          }`,
        }, { allow: allowed.join(", ") });
      }
      if (route.guarded && guard.token) await checkToken(request, guard.token);
      if (MUTATIONS.has(method)) checkSameOrigin(request, hostHeader);
      const params = (route.pattern.exec(url.pathname) ?? []).slice(1).map(decodeParam);
      const response = await handle(request, params);
      return isHead ? new Response(null, response) : response;
    } catch (error) {
      if (error instanceof ApiError) {
        const extra: Record<string, string> = error.status === 401
          ? { "www-authenticate": 'Bearer realm="queuectl"' }
          : {};
        return json(error.status, { error: error.message }, extra);
      }
      options.onError?.(error);
      const message = error instanceof Error ? error.message : String(error);
      return json(500, { error: `Internal error: ${firstLine(message)}` });
    }
  };
}

/** Checks the token in `Authorization: Bearer T` or `X-Queuectl-Token: T`. */
async function checkToken(request: Request, token: string): Promise<void> {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "")?.[1];
  const given = bearer ?? request.headers.get("x-queuectl-token");
  if (!given) {
    throw new ApiError(
      401,
      "Missing token: send Authorization: Bearer <token> or X-Queuectl-Token: <token>",
    );
  }
  if (!await sameSecret(given, token)) throw new ApiError(401, "Wrong token");
}

/** Compares two secrets in time independent of where they differ. */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(a)),
    crypto.subtle.digest("SHA-256", enc.encode(b)),
  ]);
  const [p, q] = [new Uint8Array(x), new Uint8Array(y)];
  let diff = 0;
  for (let i = 0; i < p.length; i++) diff |= p[i] ^ q[i];
  return diff === 0;
}

/**
 * Refuses a mutation a browser sent from another origin: `Sec-Fetch-Site` must be
 * same-origin when present, and `Origin`, when present, must be this server as addressed
 * by the Host header (which the loopback Host check or the token has vouched for).
 */
function checkSameOrigin(request: Request, hostHeader: string): void {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") {
    throw new ApiError(403, `Cross-origin request refused: Sec-Fetch-Site is "${site}"`);
  }
  const origin = request.headers.get("origin");
  const own = `http://${hostHeader}`;
  if (origin !== null && origin.toLowerCase() !== own) {
    throw new ApiError(403, `Cross-origin request refused: Origin "${origin}" is not ${own}`);
  }
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, `Invalid path segment "${raw}": bad percent-encoding`);
  }
}

const COMMON_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

/** The page may load only its own script, style and API: no inline code runs. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function pageHeaders(type: string): Record<string, string> {
  return {
    ...COMMON_HEADERS,
    "content-type": `${type}; charset=utf-8`,
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...COMMON_HEADERS, "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The request's body as JSON, or a 400 naming the problem. */
async function jsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `Invalid JSON body: ${(error as Error).message}`);
  }
}
