/**
 * Schedule firing in a worker: a timer that fires the due ticks of every schedule, whatever
 * the lanes are doing (a long job in every lane does not delay a tick). Every worker on
 * every host runs one; the check-and-set in fireDueSchedules makes each tick fire once.
 * @module
 */
import { fireDueSchedules } from "../store/schedules.ts";
import { errorLine, type WorkerEvent } from "./events.ts";

/** A running firing timer; `stop` ends it once a pass in progress is over. */
export interface ScheduleFiring {
  stop(): Promise<void>;
}

/** Starts firing due schedule ticks every `everyMs` (and once now); reports what it did. */
export function scheduleFiringStart(
  kv: Deno.Kv,
  options: {
    everyMs: number;
    emit: (event: WorkerEvent) => void;
    /** Told of a failed pass first; true when it dealt with the error (no warning then). */
    onError?: (error: unknown) => boolean;
  },
): ScheduleFiring {
  let pass: Promise<void> | null = null;
  const fire = () => {
    if (pass) return;
    pass = fireDueSchedules(kv, new Date())
      .then((outcomes) => {
        for (const outcome of outcomes) {
          if (outcome.kind === "fired" || outcome.kind === "skipped") {
            options.emit({ kind: "schedule", outcome });
          }
        }
      })
      .catch((error) => {
        if (options.onError?.(error)) return;
        options.emit({ kind: "warning", message: `firing schedules: ${errorLine(error)}` });
      })
      .finally(() => pass = null);
  };
  const timer = setInterval(fire, options.everyMs);
  fire();
  return {
    async stop() {
      clearInterval(timer);
      await pass;
    },
  };
}
