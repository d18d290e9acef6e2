/**
 * The benchmark report: one row per measured figure, with queuectl's summary, the peers',
 * ratios, the target and pass/fail, printed as a markdown table.
 * @module
 */
import { summarize, type Summary } from "./_harness.ts";

/** Which summary figure a row is about. */
export type Stat = "median" | "p95";

/** A goal: `stat` of queuectl's samples compared with `value`. */
export interface Goal {
  op: "<=" | ">=" | "<";
  value: number;
  /** A ratio goal: the figure ÷ this peer's figure (in the same run) is compared. */
  of?: "floor" | "tsp";
}

/** A peer's figure: samples, or a sentence saying why there is none. */
export type PeerCell = { samples: number[]; note?: string } | { text: string };

/** One line of the report. */
export interface Row {
  id: string;
  workload: string;
  unit: string;
  /** The figure compared and printed (default median). */
  stat?: Stat;
  /** queuectl samples per way of running it ("deno run", "compiled"). */
  queuectl: Record<string, number[]>;
  floor?: PeerCell;
  tsp?: PeerCell;
  target?: Goal;
  /** Printed under the table. */
  note?: string;
}

/** The figure a row reports for a set of samples. */
export function figure(s: Summary, stat: Stat = "median"): number {
  return stat === "p95" ? s.p95 : s.median;
}

/** Formats a number with precision that suits its size. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** "figure (spread)": the median with min–max, or p95 with n, or IQR for many samples. */
export function cell(samples: number[] | undefined, stat: Stat = "median"): string {
  if (!samples || samples.length === 0) return "–";
  const s = summarize(samples);
  if (s.n === 1) return fmt(s.median);
  if (stat === "p95") return `${fmt(s.p95)} (n=${s.n}, max ${fmt(s.max)})`;
  if (s.n >= 10) return `${fmt(s.median)} (IQR ${fmt(s.p25)}–${fmt(s.p75)}, n=${s.n})`;
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}, n=${s.n})`;
}

/** Whether a value meets a target. */
export function meets(value: number, target: Goal): boolean {
  if (target.op === "<=") return value <= target.value;
  if (target.op === "<") return value < target.value;
  return value >= target.value;
}

function peerText(peer: PeerCell | undefined, stat: Stat): string {
  if (!peer) return "–";
  if ("text" in peer) return peer.text;
  return cell(peer.samples, stat) + (peer.note ? ` ${peer.note}` : "");
}

function ratio(row: Row, peer: PeerCell | undefined, labels: string[]): string {
  if (!peer || "text" in peer || peer.samples.length === 0) return "–";
  const stat = row.stat ?? "median";
  const p = figure(summarize(peer.samples), stat);
  return labels.map((l) => {
    const mine = row.queuectl[l];
    if (!mine || mine.length === 0) return "–";
    return `${fmt(figure(summarize(mine), stat) / p)}×`;
  }).join(" / ");
}

/** The figure a target is checked on: the samples' figure, or its ratio to a peer's. */
function goalValue(row: Row, samples: number[]): number | null {
  const mine = figure(summarize(samples), row.stat);
  const of = row.target?.of;
  if (!of) return mine;
  const peer = row[of];
  if (!peer || "text" in peer || peer.samples.length === 0) return null;
  return mine / figure(summarize(peer.samples), row.stat);
}

/** Whether the row meets its target for these samples (null: cannot be told). */
function passes(row: Row, samples: number[]): boolean | null {
  if (!row.target || samples.length === 0) return null;
  const value = goalValue(row, samples);
  return value === null ? null : meets(value, row.target);
}

function verdict(row: Row, labels: string[]): string {
  if (!row.target) return "–";
  return labels.map((l) => {
    const pass = passes(row, row.queuectl[l] ?? []);
    return pass === null ? "n/a" : pass ? "pass" : "**FAIL**";
  }).join(" / ");
}

/** A target as text: "≥ 1,000", or "≥ 1.2× floor". */
function goalText(goal: Goal): string {
  const op = goal.op.replace("<=", "≤").replace(">=", "≥");
  return goal.of ? `${op} ${fmt(goal.value)}× ${goal.of}` : `${op} ${fmt(goal.value)}`;
}

/** The report as a markdown table followed by the notes. */
export function renderTable(rows: Row[], labels: string[]): string {
  const qHeads = labels.map((l) => `queuectl (${l})`);
  const head = [
    "#",
    "workload",
    "unit",
    ...qHeads,
    "floor (xargs -P2 / sh)",
    "tsp -S 2",
    "÷ floor",
    "÷ tsp",
    "target",
    labels.length > 1 ? `result (${labels.join(" / ")})` : "result",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const row of rows) {
    const stat = row.stat ?? "median";
    const unit = stat === "p95" ? `${row.unit}, p95` : row.unit;
    const target = row.target ? goalText(row.target) : "–";
    lines.push(
      `| ${
        [
          row.id,
          row.workload,
          unit,
          ...labels.map((l) => cell(row.queuectl[l], stat)),
          peerText(row.floor, stat),
          peerText(row.tsp, stat),
          ratio(row, row.floor, labels),
          ratio(row, row.tsp, labels),
          target,
          verdict(row, labels),
        ].join(" | ")
      } |`,
    );
  }
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.id}: ${r.note}`);
  return [...lines, "", ...notes].join("\n");
}

/** The rows as plain data for `--json`. */
export function rowsJson(rows: Row[]): unknown[] {
  const peer = (p: PeerCell | undefined) =>
    !p ? null : "text" in p ? { text: p.text } : { ...summarize(p.samples), samples: p.samples };
  return rows.map((r) => ({
    id: r.id,
    workload: r.workload,
    unit: r.unit,
    stat: r.stat ?? "median",
    queuectl: Object.fromEntries(
      Object.entries(r.queuectl).map(([k, v]) => [k, { ...summarize(v), samples: v }]),
    ),
    floor: peer(r.floor),
    tsp: peer(r.tsp),
    target: r.target ?? null,
    pass: r.target
      ? Object.fromEntries(Object.entries(r.queuectl).map(([k, v]) => [k, passes(r, v)]))
      : null,
    note: r.note ?? null,
  }));
}
