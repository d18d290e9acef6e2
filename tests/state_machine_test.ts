import assert from "node:assert/strict";
import type { AttemptOutcome, Job } from "../lib/job.ts";
import { defaultConfig } from "../lib/config.ts";
import { newJob, parseJobSpec } from "../lib/job_spec.ts";
import type { BackoffSettings } from "../lib/backoff.ts";
import {
  cancel,
  claim,
  expireLease,
  finish,
  isBlocked,
  isDue,
  promote,
  releaseDependency,
  renewLease,
  retryFromDlq,
  type Transition,
  unclaim,
} from "../lib/state_machine.ts";

const T0 = new Date("2030-01-01T00:00:00.000Z");
const BACKOFF: BackoffSettings = { base: 2, maxSeconds: 3600, jitter: 0 };
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/** Claims records stored before `runs` existed number their runs on from `attempts`. */
Deno.test("claim() numbers runs on from attempts for a record without runs", () => {
  const old = { ...makeJob(), attempts: 2, state: "failed" as const } as Partial<Job>;
  delete old.runs;
  assert.equal(claimAt(old as Job, at(0)).runs, 3);
});

function makeJob(fields: Record<string, unknown> = {}): Job {
  return newJob(parseJobSpec({ id: "j1", command: "true", ...fields }), {
    id: "unused",
    now: T0,
    seq: 1,
    cwd: "/tmp",
    config: defaultConfig(),
  });
}

function ok(t: Transition): Job {
  if (!t.ok) throw new Error(`expected a transition, got ${t.reason}: ${t.detail}`);
  return t.job;
}

function refused(t: Transition, reason: string): void {
  assert.equal(t.ok, false, "the transition should be refused");
  if (!t.ok) assert.equal(t.reason, reason);
}

const exited = (code: number): AttemptOutcome => ({ kind: "exited", code });

function claimAt(job: Job, now: Date, token = "tok"): Job {
  return ok(claim(job, { now, workerId: "w1", leaseToken: token, leaseSeconds: 30 }));
}

function finishAt(job: Job, now: Date, outcome: AttemptOutcome, token = "tok"): Job {
  return ok(finish(job, { now, leaseToken: token, outcome, backoff: BACKOFF }));
}

Deno.test("claim() takes a pending job under a lease and counts the attempt", () => {
  const job = claimAt(makeJob(), at(1));
  assert.equal(job.state, "processing");
  assert.equal(job.attempts, 1);
  assert.equal(job.runs, 1);
  assert.equal(job.worker_id, "w1");
  assert.equal(job.lease_token, "tok");
  assert.equal(job.lease_expires_at, at(31).toISOString());
  assert.equal(job.started_at, at(1).toISOString());
  assert.equal(job.updated_at, at(1).toISOString());
  assert.equal(job.next_run_at, null);
  assert.equal(job.finished_at, null);
});

Deno.test("claim() refuses a job whose next_run_at has not come, and takes it once it has", () => {
  const job = makeJob({ delay: "10s" });
  assert.equal(job.next_run_at, at(10).toISOString());
  assert.equal(isDue(job, at(9.999)), false);
  refused(
    claim(job, { now: at(9.999), workerId: "w", leaseToken: "t", leaseSeconds: 30 }),
    "not_due",
  );
  assert.equal(isDue(job, at(10)), true);
  assert.equal(claimAt(job, at(10)).state, "processing");
});

Deno.test("claim() refuses every state but pending and failed", () => {
  const processing = claimAt(makeJob(), at(0));
  refused(
    claim(processing, { now: at(1), workerId: "w2", leaseToken: "t2", leaseSeconds: 30 }),
    "wrong_state",
  );
  for (const state of ["completed", "dead", "cancelled"] as const) {
    const job = { ...makeJob(), state };
    assert.equal(isDue(job, at(100)), false);
    refused(
      claim(job, { now: at(100), workerId: "w", leaseToken: "t", leaseSeconds: 30 }),
      "wrong_state",
    );
  }
});

Deno.test("finish() with exit code 0 completes the job and clears the lease", () => {
  const done = finishAt(claimAt(makeJob(), at(0)), at(5), exited(0));
  assert.equal(done.state, "completed");
  assert.equal(done.exit_code, 0);
  assert.equal(done.last_error, null);
  assert.equal(done.finished_at, at(5).toISOString());
  assert.equal(done.lease_token, null);
  assert.equal(done.lease_expires_at, null);
  assert.equal(done.worker_id, null);
  assert.equal(done.attempts, 1);
});

Deno.test("finish() with a failure schedules a retry after base ^ attempts seconds", () => {
  const failed = finishAt(claimAt(makeJob(), at(0)), at(5), exited(7));
  assert.equal(failed.state, "failed");
  assert.equal(failed.exit_code, 7);
  assert.equal(failed.last_error, "exit code 7");
  assert.equal(failed.next_run_at, at(5 + 2).toISOString(), "2^1 seconds after the first run");
  assert.equal(failed.finished_at, null);
  refused(
    claim(failed, { now: at(6.999), workerId: "w", leaseToken: "t", leaseSeconds: 30 }),
    "not_due",
  );
  const second = finishAt(claimAt(failed, at(7)), at(8), exited(7));
  assert.equal(second.attempts, 2);
  assert.equal(second.next_run_at, at(8 + 4).toISOString(), "2^2 seconds after the second run");
});

Deno.test("max_retries 3 allows at most 4 runs, then the job is dead", () => {
  let job = makeJob({ max_retries: 3 });
  let now = 0;
  const states: string[] = [];
  for (let run = 1; run <= 4; run++) {
    job = claimAt(job, at(now));
    assert.equal(job.attempts, run);
    now += 1;
    job = finishAt(job, at(now), exited(1));
    states.push(job.state);
    if (job.next_run_at) now = (Date.parse(job.next_run_at) - T0.getTime()) / 1000;
  }
  assert.deepEqual(states, ["failed", "failed", "failed", "dead"]);
  assert.equal(job.attempts, 4);
  assert.equal(job.next_run_at, null);
  assert.equal(job.finished_at, at(now).toISOString());
  refused(
    claim(job, { now: at(now + 1e6), workerId: "w", leaseToken: "t", leaseSeconds: 30 }),
    "wrong_state",
  );
});

Deno.test("max_retries 0 means one run: the first failure is dead", () => {
  const job = finishAt(claimAt(makeJob({ max_retries: 0 }), at(0)), at(1), exited(2));
  assert.equal(job.state, "dead");
  assert.equal(job.attempts, 1);
});

Deno.test("finish() names every kind of failed outcome in last_error", () => {
  const cases: [AttemptOutcome, string][] = [
    [exited(127), "exit code 127 (command not found)"],
    [{ kind: "signaled", signal: "SIGKILL" }, "killed by SIGKILL"],
    [{ kind: "timeout", seconds: 3 }, "timeout: killed after 3s"],
    [{ kind: "spawn_failed", message: "no sh" }, "could not start: no sh"],
  ];
  for (const [outcome, error] of cases) {
    const job = finishAt(claimAt(makeJob(), at(0)), at(1), outcome);
    assert.equal(job.state, "failed", outcome.kind);
    assert.equal(job.last_error, error);
    assert.equal(job.exit_code, outcome.kind === "exited" ? outcome.code : null);
  }
});

Deno.test("finish() and renewLease() are fenced by the lease token", () => {
  const job = claimAt(makeJob(), at(0), "mine");
  refused(
    finish(job, { now: at(1), leaseToken: "other", outcome: exited(0), backoff: BACKOFF }),
    "lease_mismatch",
  );
  refused(renewLease(job, { now: at(1), leaseToken: "other", leaseSeconds: 30 }), "lease_mismatch");
  const renewed = ok(renewLease(job, { now: at(20), leaseToken: "mine", leaseSeconds: 30 }));
  assert.equal(renewed.lease_expires_at, at(50).toISOString());
  assert.equal(renewed.state, "processing");
  assert.equal(renewed.attempts, 1, "renewing does not count a run");
  const done = finishAt(renewed, at(21), exited(0), "mine");
  refused(
    finish(done, { now: at(22), leaseToken: "mine", outcome: exited(0), backoff: BACKOFF }),
    "wrong_state",
  );
  refused(renewLease(done, { now: at(22), leaseToken: "mine", leaseSeconds: 30 }), "wrong_state");
});

Deno.test("finish() from a worker whose lease was expired and re-claimed is refused", () => {
  const first = claimAt(makeJob(), at(0), "first");
  const lost = ok(expireLease(first, { now: at(31), backoff: BACKOFF }));
  const second = claimAt(lost, at(40), "second");
  refused(
    finish(second, { now: at(41), leaseToken: "first", outcome: exited(0), backoff: BACKOFF }),
    "lease_mismatch",
  );
  assert.equal(finishAt(second, at(41), exited(0), "second").state, "completed");
});

Deno.test("expireLease() refuses while the lease is live and expires it once it has ended", () => {
  const job = claimAt(makeJob(), at(0));
  refused(expireLease(job, { now: at(29.999), backoff: BACKOFF }), "lease_live");
  const lost = ok(expireLease(job, { now: at(30), backoff: BACKOFF }));
  assert.equal(lost.state, "failed");
  assert.equal(lost.attempts, 1, "the lost run counts");
  assert.match(lost.last_error ?? "", /^worker lost: lease of worker w1 expired/);
  assert.equal(lost.exit_code, null);
  assert.equal(lost.lease_token, null);
  assert.equal(lost.worker_id, null);
  assert.equal(lost.next_run_at, at(30 + 2).toISOString());
  refused(expireLease(makeJob(), { now: at(100), backoff: BACKOFF }), "wrong_state");
});

Deno.test("expireLease() on the last allowed run makes the job dead", () => {
  const job = claimAt(makeJob({ max_retries: 0 }), at(0));
  const lost = ok(expireLease(job, { now: at(31), backoff: BACKOFF }));
  assert.equal(lost.state, "dead");
  assert.equal(lost.finished_at, at(31).toISOString());
});

Deno.test("a stopped outcome puts the job back to pending without counting the run", () => {
  const once = finishAt(claimAt(makeJob({ max_retries: 0 }), at(0)), at(1), { kind: "stopped" });
  assert.equal(once.state, "pending");
  assert.equal(once.attempts, 0);
  assert.equal(once.next_run_at, null, "runnable again at once");
  assert.equal(once.lease_token, null);
  assert.match(once.last_error ?? "", /^stopped/);
  // Stopped again and again, a max_retries 0 job still gets its one real run.
  const again = finishAt(claimAt(once, at(2)), at(3), { kind: "stopped" });
  assert.equal(again.attempts, 0);
  const real = finishAt(claimAt(again, at(4)), at(5), exited(1));
  assert.equal(real.state, "dead");
  assert.equal(real.attempts, 1);
  assert.equal(real.runs, 3, "each run has its own number, stopped ones too");
});

Deno.test("a cancelled outcome ends the job cancelled, not retried", () => {
  const job = finishAt(claimAt(makeJob(), at(0)), at(1), { kind: "cancelled" });
  assert.equal(job.state, "cancelled");
  assert.equal(job.next_run_at, null);
  assert.equal(job.finished_at, at(1).toISOString());
  assert.equal(job.last_error, "cancelled while running");
});

Deno.test("promote() clears a past next_run_at and refuses a future one", () => {
  const delayed = makeJob({ delay: 60 });
  refused(promote(delayed, at(59)), "not_due");
  const due = ok(promote(delayed, at(60)));
  assert.equal(due.next_run_at, null);
  assert.equal(due.state, "pending");
  const ready = makeJob();
  assert.equal(ok(promote(ready, at(0))), ready, "a ready job is returned unchanged");
  const failed = finishAt(claimAt(makeJob(), at(0)), at(1), exited(1));
  assert.equal(ok(promote(failed, at(3))).state, "failed");
  refused(promote(claimAt(makeJob(), at(0)), at(100)), "wrong_state");
});

Deno.test("retryFromDlq() puts a dead or cancelled job back to pending with attempts reset", () => {
  const dead = finishAt(claimAt(makeJob({ max_retries: 0 }), at(0)), at(1), exited(1));
  const retried = ok(retryFromDlq(dead, at(10)));
  assert.equal(retried.state, "pending");
  assert.equal(retried.attempts, 0);
  assert.equal(retried.next_run_at, null);
  assert.equal(retried.finished_at, null);
  assert.equal(retried.updated_at, at(10).toISOString());
  assert.equal(retried.max_retries, 0);
  const rerun = claimAt(retried, at(10));
  assert.equal(rerun.attempts, 1, "a full set of runs again");
  assert.equal(rerun.runs, 2, "the run number goes on: the first run's record is kept");
  const cancelled = ok(cancel(makeJob(), at(0)));
  assert.equal(ok(retryFromDlq(cancelled, at(1))).state, "pending");
  for (
    const job of [
      makeJob(),
      claimAt(makeJob(), at(0)),
      finishAt(claimAt(makeJob(), at(0)), at(1), exited(0)),
    ]
  ) {
    const t = retryFromDlq(job, at(2));
    refused(t, "wrong_state");
    if (!t.ok) assert.match(t.detail, /only dead or cancelled jobs can be retried/);
  }
});

Deno.test("cancel() cancels waiting jobs only", () => {
  const pending = ok(cancel(makeJob({ delay: 60 }), at(1)));
  assert.equal(pending.state, "cancelled");
  assert.equal(pending.next_run_at, null);
  assert.equal(pending.finished_at, at(1).toISOString());
  assert.equal(pending.last_error, "cancelled before it ran");
  const failed = finishAt(claimAt(makeJob(), at(0)), at(1), exited(1));
  assert.equal(ok(cancel(failed, at(2))).state, "cancelled");
  const processing = claimAt(makeJob(), at(0));
  refused(cancel(processing, at(1)), "wrong_state");
  refused(cancel(finishAt(processing, at(1), exited(0)), at(2)), "wrong_state");
  refused(cancel(pending, at(3)), "wrong_state");
});

/** Freezes a value and everything it holds, so that any write to it throws. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** A deep-frozen copy of `job` (the transitions are given frozen jobs and inputs). */
const frozen = (job: Job): Job => deepFreeze(structuredClone(job));

Deno.test("transitions never change the job they are given: every transition from every state, with deep-frozen jobs and inputs", () => {
  const pending = makeJob({ max_retries: 3, after: ["p1"] });
  const ready = ok(releaseDependency(pending, { id: "p1", state: "completed" }, at(0)));
  const delayed = makeJob({ delay: 60 });
  const claimed = claimAt(ready, at(1));
  const failed = finishAt(claimed, at(2), exited(1));
  const lostOnce = { ...claimAt({ ...failed, next_run_at: null }, at(5)), lost: 1 };
  const dead = finishAt(claimAt(makeJob({ max_retries: 0 }), at(1)), at(2), exited(1));
  const completed = finishAt(claimAt(ready, at(1)), at(2), exited(0));
  const cancelled = ok(cancel(ready, at(1)));
  const jobs = { pending, ready, delayed, claimed, failed, lostOnce, dead, completed, cancelled };
  const outcomes: AttemptOutcome[] = [
    exited(0),
    exited(1),
    { kind: "signaled", signal: "SIGKILL" },
    { kind: "timeout", seconds: 3 },
    { kind: "spawn_failed", message: "no sh" },
    { kind: "stopped" },
    { kind: "cancelled" },
  ];
  const backoff = deepFreeze({ ...BACKOFF });
  const now = at(100);
  const allowed = new Set<string>(), tried = new Set<string>();
  for (const [name, job] of Object.entries(jobs)) {
    const snapshot = structuredClone(job);
    const calls: [string, () => Transition][] = [
      [
        "claim",
        () =>
          claim(
            frozen(job),
            deepFreeze({ now, workerId: "w2", leaseToken: "t2", leaseSeconds: 30 }),
          ),
      ],
      [
        "unclaim",
        () => unclaim(frozen(job), deepFreeze({ leaseToken: "tok", before: frozen(failed) })),
      ],
      [
        "renewLease",
        () => renewLease(frozen(job), deepFreeze({ now, leaseToken: "tok", leaseSeconds: 30 })),
      ],
      ...outcomes.map((outcome): [string, () => Transition] => [
        `finish ${outcome.kind}`,
        () =>
          finish(
            frozen(job),
            deepFreeze({ now, leaseToken: "tok", outcome, backoff, random: 0.5 }),
          ),
      ]),
      ["expireLease", () => expireLease(frozen(job), deepFreeze({ now, backoff }))],
      [
        "expireLease maxLost",
        () => expireLease(frozen(job), deepFreeze({ now, backoff, maxLost: 2 })),
      ],
      ["promote", () => promote(frozen(job), now)],
      ["retryFromDlq", () => retryFromDlq(frozen(job), now)],
      [
        "releaseDependency completed",
        () =>
          releaseDependency(
            frozen(job),
            deepFreeze({ id: "p1", state: "completed" as const }),
            now,
          ),
      ],
      [
        "releaseDependency dead",
        () => releaseDependency(frozen(job), deepFreeze({ id: "p1", state: "dead" as const }), now),
      ],
      ["cancel", () => cancel(frozen(job), now)],
    ];
    for (const [transition, call] of calls) {
      try {
        tried.add(transition);
        if (call().ok) allowed.add(transition);
      } catch (error) {
        assert.fail(`${transition} of a ${name} job wrote to its input: ${error}`);
      }
    }
    assert.deepEqual(job, snapshot, `${name}: the unfrozen original is unchanged too`);
  }
  assert.equal(now.getTime(), at(100).getTime(), "the clock given is unchanged");
  assert.deepEqual([...allowed].sort(), [...tried].sort(), "each one ran from some state");
});

Deno.test("finish() sends fail_fast_on exit codes, and codes outside retry_on, to the DLQ", () => {
  const base = claimAt(makeJob({ max_retries: 5, fail_fast_on: [2] }), at(1));
  const failFast = finishAt(base, at(2), exited(2));
  assert.equal(failFast.state, "dead");
  assert.equal(failFast.dead_reason, "fail_fast");
  assert.match(failFast.last_error ?? "", /fail-fast/);
  assert.equal(finishAt(base, at(2), exited(3)).state, "failed");
  const onlyTemp = claimAt(makeJob({ max_retries: 5, retry_on: [75] }), at(1));
  assert.equal(finishAt(onlyTemp, at(2), exited(75)).state, "failed");
  const other = finishAt(onlyTemp, at(2), exited(1));
  assert.equal(other.state, "dead");
  assert.equal(other.dead_reason, "fail_fast");
  assert.equal(finishAt(onlyTemp, at(2), { kind: "timeout", seconds: 1 }).state, "failed");
  const outOfRetries = finishAt(claimAt(makeJob({ max_retries: 0 }), at(1)), at(2), exited(1));
  assert.equal(outOfRetries.dead_reason, "failed");
});

Deno.test("expireLease() quarantines a job as crashed after maxLost lost runs", () => {
  const job = claimAt(makeJob({ max_retries: 10 }), at(1));
  const first = ok(expireLease(job, { now: at(40), backoff: BACKOFF, maxLost: 2 }));
  assert.equal(first.state, "failed");
  assert.equal(first.lost, 1);
  const again = claimAt({ ...first, next_run_at: null }, at(50));
  const second = ok(expireLease(again, { now: at(90), backoff: BACKOFF, maxLost: 2 }));
  assert.equal(second.state, "dead");
  assert.equal(second.dead_reason, "crashed");
  assert.equal(second.last_error, "crashed: its worker was lost 2 times");
  assert.equal(second.next_run_at, null);
});

Deno.test("releaseDependency() unblocks on completion and cancels on any other end", () => {
  const child = makeJob({ after: ["p1", "p2"] });
  assert.deepEqual(child.waiting_on, ["p1", "p2"]);
  refused(
    claim(child, { now: at(1), workerId: "w", leaseToken: "t", leaseSeconds: 30 }),
    "not_due",
  );
  const one = ok(releaseDependency(child, { id: "p1", state: "completed" }, at(1)));
  assert.deepEqual(one.waiting_on, ["p2"]);
  assert.equal(isBlocked(one), true);
  const both = ok(releaseDependency(one, { id: "p2", state: "completed" }, at(2)));
  assert.equal(isBlocked(both), false);
  assert.equal(isDue(both, at(2)), true);
  const dead = ok(releaseDependency(child, { id: "p2", state: "dead" }, at(1)));
  assert.equal(dead.state, "cancelled");
  assert.equal(dead.last_error, 'dependency "p2" ended dead');
  const any = ok(
    releaseDependency({ ...child, after_any: true }, { id: "p2", state: "dead" }, at(1)),
  );
  assert.deepEqual(any.waiting_on, ["p1"]);
  refused(releaseDependency(child, { id: "zz", state: "completed" }, at(1)), "wrong_state");
});

Deno.test("unclaim() gives the lease holder back the job exactly as it was before the claim, and refuses anyone else", () => {
  const waiting = finishAt(claimAt(makeJob({ max_retries: 3 }), at(1)), at(2), exited(1));
  assert.equal(waiting.state, "failed");
  const claimed = claimAt(waiting, at(9), "tok2");
  assert.deepEqual(ok(unclaim(claimed, { leaseToken: "tok2", before: waiting })), waiting);
  refused(unclaim(claimed, { leaseToken: "other", before: waiting }), "lease_mismatch");
  refused(unclaim(waiting, { leaseToken: "tok2", before: waiting }), "wrong_state");
  refused(
    unclaim(claimed, { leaseToken: "tok2", before: { ...waiting, id: "someone-else" } }),
    "wrong_state",
  );
  refused(unclaim(claimed, { leaseToken: "tok2", before: claimed }), "wrong_state");
});
