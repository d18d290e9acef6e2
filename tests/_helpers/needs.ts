/**
 * Tests that need something this machine may lack (a command, a capability): decided when
 * the test file loads, and ignored with the reason in the test's name, so that the totals
 * count them as ignored instead of passed.
 * @module
 */

/**
 * The name and `ignore` flag for `Deno.test`: the test runs when `missing` is null, and is
 * ignored with "(ignored: <missing>)" in its name otherwise.
 */
export function needs(name: string, missing: string | null): { name: string; ignore: boolean } {
  return missing === null
    ? { name, ignore: false }
    : { name: `${name} (ignored: ${missing})`, ignore: true };
}

/** Reports whether a command is on the PATH (`command -v`). */
export async function commandExists(name: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${name}`],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/** Null when `command` is on the PATH, else the reason to ignore a test that needs it. */
export async function missingCommand(command: string, debianPackage = command) {
  return await commandExists(command)
    ? null
    : `${command} is not installed (Debian package ${debianPackage})`;
}
