/**
 * The program's version, read from deno.json (its single source of truth).
 * @module
 */
import meta from "../../deno.json" with { type: "json" };

/** The program's version, as `queuectl --version` prints it. */
export const VERSION: string = meta.version;
