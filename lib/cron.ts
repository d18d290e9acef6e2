/**
 * Cron expressions: checking one (with its IANA time zone) and computing its ticks, through
 * the croner library (the only file that imports it). Pure: the time is always passed in.
 * @module
 */
import { Cron } from "npm:croner@9.1.0";
import { UsageError } from "./errors.ts";

/** The zone a schedule uses when none is given. */
export const DEFAULT_TZ = "UTC";

/** The cron shorthands croner accepts, for help texts and messages. */
export const CRON_SHORTHANDS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"];

const FIELDS_HELP = "5 fields (minute hour day-of-month month day-of-week), 6 with seconds first," +
  ` or one of ${CRON_SHORTHANDS.join(", ")}`;

/** croner's names of the fields, as a crontab(5) reader knows them. */
const FIELD_NAMES: Record<string, string> = {
  second: "second",
  minute: "minute",
  hour: "hour",
  day: "day-of-month",
  month: "month",
  dayOfWeek: "day-of-week",
};

/** The field names in order, for an error that gives the position of a bad field. */
const FIELD_ORDER = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/** Checks an IANA time zone name, throwing a UsageError naming it if it is unknown. */
export function parseTimeZone(tz: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(
      `Invalid --tz "${tz}": expected an IANA time zone such as UTC, Europe/Berlin or America/New_York`,
    );
  }
}

/**
 * Checks a cron expression, throwing a UsageError that names the bad field; returns the
 * expression with its whitespace normalised.
 */
export function parseCron(expr: string): string {
  const text = expr.trim().replace(/\s+/g, " ");
  try {
    cronOf({ cron: text, tz: DEFAULT_TZ });
  } catch (error) {
    throw new UsageError(`Invalid cron expression "${expr}": ${cronProblem(text, error)}`);
  }
  return text;
}

/** What croner found wrong, in crontab(5) words. */
function cronProblem(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, "") : "";
  const parts = text.split(" ");
  const fields = parts.length === 6 ? ["second", ...FIELD_ORDER] : FIELD_ORDER;
  const value = /Invalid value for (\w+): (.*)$/.exec(message);
  if (value) {
    const name = FIELD_NAMES[value[1]] ?? value[1];
    const index = fields.indexOf(name);
    return `${name} field${index >= 0 ? ` "${parts[index]}"` : ""} is out of range`;
  }
  const entry = /configuration entry (\d+) \((.*)\) contains illegal characters/.exec(message);
  if (entry) {
    // croner numbers the fields of a 6-field pattern from 0, seconds first.
    const name = ["second", ...FIELD_ORDER][Number(entry[1])] ?? "a";
    const part = parts[parts.length === 6 ? Number(entry[1]) : Number(entry[1]) - 1];
    return `${name} field "${part}" is not valid; expected ${FIELDS_HELP}`;
  }
  if (/space separated parts/.test(message)) {
    const n = text === "" ? 0 : parts.length;
    return `${n} field${n === 1 ? "" : "s"}; expected ${FIELDS_HELP}`;
  }
  const why = (message || String(error)).replace(/^Syntax error, /, "");
  const bad = fields.length === parts.length ? firstBadField(parts) : -1;
  return bad >= 0
    ? `${fields[bad]} field "${parts[bad]}": ${why}`
    : `${why}; expected ${FIELDS_HELP}`;
}

/** The index of the first field that is wrong on its own (the others set to `*`), or -1. */
function firstBadField(parts: string[]): number {
  return parts.findIndex((part, i) => {
    try {
      new Cron(parts.map((_, j) => (j === i ? part : "*")).join(" "), { paused: true });
      return false;
    } catch {
      return true;
    }
  });
}

/** A cron expression and the IANA zone it is read in (a schedule is one). */
export interface CronSpec {
  cron: string;
  tz: string;
}

const cache = new Map<string, Cron>();

/** A paused croner instance for the expression and zone, kept for reuse. */
function cronOf({ cron: expr, tz }: CronSpec): Cron {
  const id = `${tz} ${expr}`;
  let cron = cache.get(id);
  if (!cron) {
    // croner is about 50 times faster with a fixed offset than with a zone: UTC uses one.
    cron = tz === "UTC"
      ? new Cron(expr, { paused: true, utcOffset: 0 })
      : new Cron(expr, { paused: true, timezone: tz });
    if (cache.size > 1000) cache.clear();
    cache.set(id, cron);
  }
  return cron;
}

/** The first tick strictly after `afterMs`, in ms since the epoch; null when there is none. */
export function cronNext(spec: CronSpec, afterMs: number): number | null {
  const next = cronOf(spec).nextRun(new Date(afterMs));
  return next ? next.getTime() : null;
}

/** The next `n` ticks strictly after `afterMs`. */
export function cronNextMany(spec: CronSpec, range: { afterMs: number; n: number }): number[] {
  const out: number[] = [];
  let at: number | null = range.afterMs;
  while (out.length < range.n && (at = cronNext(spec, at)) !== null) out.push(at);
  return out;
}

/** The ticks from `fromMs` (itself a tick) to `nowMs`: the latest few, and how many came before. */
export interface DueTicks {
  /** The latest ticks (at most the number asked for), oldest first. */
  latest: number[];
  /** How many due ticks come before `latest`. */
  earlier: number;
  /** False when there were too many ticks to walk and `earlier` is an estimate. */
  exact: boolean;
}

/** How many ticks one walk visits at most (croner takes about 1 ms a tick in a zone). */
export const WALK_LIMIT = 500;

/**
 * The ticks due in [fromMs, nowMs] (`fromMs` is a tick): the latest `keep`, and how many
 * are before them. More than WALK_LIMIT due ticks (a long downtime of a frequent
 * schedule) are not all visited: the latest are found in a window before `nowMs` that
 * widens until it holds enough, and the earlier ones are counted from the tick rate.
 */
export function cronDueTicks(
  spec: CronSpec,
  range: { fromMs: number; nowMs: number; keep: number },
): DueTicks {
  const { fromMs, nowMs, keep } = range;
  if (fromMs > nowMs) return { latest: [], earlier: 0, exact: true };
  const first = walk(spec, range);
  if (first.reachedNow) {
    return { latest: first.latest, earlier: first.count - first.latest.length, exact: true };
  }
  // Too many to walk: look for the latest ones in a window that ends now.
  const spacing = Math.max(1, (first.last - fromMs) / Math.max(1, first.count - 1));
  let width = spacing * (keep + 1);
  for (let tries = 0; tries < 40; tries++) {
    const lo = Math.max(first.last, nowMs - width);
    // A window start that is not a tick: walk from just before it, so a tick at lo counts.
    const found = walk(spec, { fromMs: lo, nowMs, keep, startBefore: true });
    if (!found.reachedNow) {
      width /= 2;
      continue;
    }
    if (found.count >= keep || lo === first.last) {
      const before = Math.round((lo - fromMs) / spacing);
      return {
        latest: found.latest,
        earlier: before + found.count - found.latest.length,
        exact: false,
      };
    }
    width *= 4;
  }
  // The ticks are too irregular to place: the latest ones walked stand for the due ones.
  return { latest: first.latest, earlier: first.count - first.latest.length, exact: false };
}

/**
 * Walks the ticks up to `nowMs` from `fromMs` (a tick), or with `startBefore` from the first
 * tick at or after `fromMs`, keeping the latest `keep`; stops after WALK_LIMIT ticks.
 */
function walk(
  spec: CronSpec,
  range: { fromMs: number; nowMs: number; keep: number; startBefore?: boolean },
): { latest: number[]; count: number; last: number; reachedNow: boolean } {
  const { fromMs, nowMs, keep } = range;
  const latest: number[] = [];
  let count = 0;
  let at: number | null = range.startBefore ? cronNext(spec, fromMs - 1) : fromMs;
  let last = fromMs;
  while (at !== null && at <= nowMs) {
    if (count >= WALK_LIMIT) return { latest, count, last, reachedNow: false };
    count++;
    last = at;
    latest.push(at);
    if (latest.length > keep) latest.shift();
    at = cronNext(spec, at);
  }
  return { latest, count, last, reachedNow: true };
}
