/**
 * Error classes and the one place that maps an error to an exit code.
 * @module
 */

/** A mistake in what the user typed or supplied: exit code 2, store unchanged. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An operation that could not be carried out (store, process, file): exit code 1. */
export class OperationError extends Error {
  override name = "OperationError";
}

/** Exit code for a usage mistake. */
export const EXIT_USAGE = 2;
/** Exit code for a failed operation. */
export const EXIT_FAILURE = 1;

/** Maps any thrown value to an exit code and the single line to print on stderr. */
export function describeError(error: unknown): { code: number; line: string } {
  if (error instanceof UsageError) return { code: EXIT_USAGE, line: error.message };
  if (error instanceof OperationError) return { code: EXIT_FAILURE, line: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: EXIT_FAILURE, line: firstLine(message) };
}

/** The first line of a message, for errors whose text may span lines. */
export function firstLine(message: string): string {
  const line = message.split("\n").find((l) => l.trim() !== "") ?? message;
  return line.trim();
}
