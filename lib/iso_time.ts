/**
 * Times typed by people as ISO-8601 text, checked against the calendar (pure): JavaScript's
 * own parser rolls `2027-02-30` over to March 2, which this refuses.
 * @module
 */

/** What reading a time gave: the instant, text not in ISO-8601 form, or a day that does not exist. */
export type IsoTimeParse =
  | { kind: "time"; date: Date }
  | { kind: "malformed" }
  | { kind: "impossible"; why: string };

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** How many days month `month` (1-12) of `year` has. */
export function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [4, 6, 9, 11].includes(month) ? 30 : 31;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return leap ? 29 : 28;
}

/**
 * Reads an ISO-8601 time such as `2027-04-30T10:00:00Z` (or, with `dateOnly`, also
 * `2027-04-30`); a day past the end of its month is refused, not rolled over.
 *
 * @example
 * ```ts
 * parseIsoTime("2027-02-30T00:00:00Z"); // { kind: "impossible", why: "February 2027 has 28 days" }
 * ```
 */
export function parseIsoTime(text: string, options: { dateOnly?: boolean } = {}): IsoTimeParse {
  const shape = options.dateOnly
    ? /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/
    : /^(\d{4})-(\d{2})-(\d{2})T/;
  const match = shape.exec(text);
  const ms = Date.parse(text);
  if (!match || Number.isNaN(ms)) return { kind: "malformed" };
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12) return { kind: "malformed" };
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) {
    return { kind: "impossible", why: `${MONTHS[month - 1]} ${year} has ${days} days` };
  }
  return { kind: "time", date: new Date(ms) };
}
