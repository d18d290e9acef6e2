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
  const denied = permissionReason(error);
  if (denied) return { code: EXIT_FAILURE, line: `Not permitted: ${denied}` };
  const message = error instanceof Error ? error.message : String(error);
  return { code: EXIT_FAILURE, line: firstLine(message) };
}

/** The first line of a message, for errors whose text may span lines. */
export function firstLine(message: string): string {
  const line = message.split("\n").find((l) => l.trim() !== "") ?? message;
  return line.trim();
}

/**
 * Deno's refusal of a permission as a short phrase naming the path, without Deno's "run
 * again with the --allow-… flag" hint (a user of an installed queuectl cannot add flags);
 * null for any other error.
 */
export function permissionReason(error: unknown): string | null {
  if (!(error instanceof Deno.errors.NotCapable)) return null;
  const match = /Requires (\w+) access to "?([^",]+)"?/.exec(error.message);
  if (!match) return "not permitted";
  const [, kind, what] = match;
  return kind === "all"
    ? `Deno opens special files such as "${what}" only with --allow-all, which queuectl does not use`
    : `no ${kind} permission for "${what}" (queuectl runs without --allow-${kind} for it)`;
}

/** Why an operation failed, in one line: a permission refusal named as such, else the message. */
export function errorReason(error: unknown): string {
  return permissionReason(error) ??
    firstLine(error instanceof Error ? error.message : String(error));
}
