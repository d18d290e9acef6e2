/**
 * The values completion offers (pure data): which command arguments and which options take
 * job ids, states, queues, config keys, labels or schedule names. The scripts ask `queuectl __complete KIND`
 * for the values themselves, so they are always those of the store.
 * @module
 */

/** The hidden command the completion scripts call for values. */
export const COMPLETE_COMMAND = "__complete";

/** The kinds of values completion can offer. */
export const VALUE_KINDS = [
  "ids",
  "states",
  "queues",
  "config-keys",
  "labels",
  "schedules",
] as const;
/** One of `VALUE_KINDS`. */
export type ValueKind = typeof VALUE_KINDS[number];

/** The values a command's positional arguments take, by command path. */
export const ARGUMENT_VALUES: Record<string, ValueKind> = {
  "show": "ids",
  "logs": "ids",
  "wait": "ids",
  "cancel": "ids",
  "retry": "ids",
  "rm": "ids",
  "edit": "ids",
  "dlq retry": "ids",
  "dlq remove": "ids",
  "pause": "queues",
  "resume": "queues",
  "queue set": "queues",
  "queue rm": "queues",
  "config get": "config-keys",
  "config set": "config-keys",
  "schedule show": "schedules",
  "schedule rm": "schedules",
  "schedule pause": "schedules",
  "schedule resume": "schedules",
  "schedule run": "schedules",
};

/** The values an option takes, by its long flag (at any command that has it). */
export const OPTION_VALUES: Record<string, ValueKind> = {
  "--state": "states",
  "--queue": "queues",
  "--label": "labels",
  "--after": "ids",
  "--schedule": "schedules",
};
