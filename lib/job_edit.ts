/**
 * What a person may change on a waiting job (`queuectl edit`, `PATCH /api/jobs/:id`): the
 * editable fields as the job spec spells them, and the checked patch they make (pure).
 * @module
 */
import { UsageError } from "./errors.ts";
import type { Job } from "./job.ts";
import { parseJobSpec } from "./job_spec.ts";
import type { JobEdit } from "./state_machine.ts";

/** The fields a waiting job's editor may change. */
export const EDITABLE_FIELDS = ["command", "priority", "run_at", "queue", "label"];

/** The fields `edit` shows in the editor, as the job spec spells them. */
export function editable(job: Job): Record<string, unknown> {
  return {
    command: job.command,
    priority: job.priority,
    run_at: job.next_run_at,
    queue: job.queue,
    label: job.label,
  };
}

/**
 * Checks edited fields by the job-spec rules (the messages match `enqueue`'s) and returns
 * what changed from `job`.
 */
export function editPatch(job: Job, fields: Record<string, unknown>, where: string): JobEdit {
  for (const key of Object.keys(fields)) {
    if (!EDITABLE_FIELDS.includes(key)) {
      throw new UsageError(
        `Invalid ${where}: unknown field "${key}"; expected ${EDITABLE_FIELDS.join(", ")}`,
      );
    }
  }
  const { run_at, label, ...rest } = fields;
  const spec = parseJobSpec({
    ...rest,
    ...(run_at === null || run_at === undefined ? {} : { run_at }),
    ...(label === null || label === "" || label === undefined ? {} : { label }),
  }, where);
  const patch: JobEdit = {};
  if (spec.command !== job.command) patch.command = spec.command;
  if ((spec.priority ?? job.priority) !== job.priority) patch.priority = spec.priority;
  if ((spec.queue ?? job.queue) !== job.queue) patch.queue = spec.queue;
  const newLabel = spec.label ?? null;
  if ("label" in fields && newLabel !== job.label) patch.label = newLabel;
  const runAt = spec.run_at ?? null;
  if ("run_at" in fields && (runAt?.toISOString() ?? null) !== job.next_run_at) {
    patch.run_at = runAt;
  }
  return patch;
}
