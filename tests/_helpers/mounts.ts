/**
 * Test helpers that make a store's medium fail on purpose, as root: a small tmpfs to fill
 * up, and the immutable attribute (`chattr +i`), which even root cannot write through.
 * Each has a probe, run once when a test file loads, to decide whether the test can run.
 * @module
 */

async function run(cmd: string, args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()
    .catch(() => null);
  return out?.success ?? false;
}

/** Mounts a tmpfs of `size` at `dir` (made if need be); false when this process cannot. */
export async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  await Deno.mkdir(dir, { recursive: true });
  return await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
}

/** Unmounts `dir` (lazily: a process still holding a file there does not block it). */
export async function umount(dir: string): Promise<void> {
  await run("umount", ["-l", dir]);
}

/** Null when a tmpfs can be mounted here, else why not (needs root with CAP_SYS_ADMIN). */
export async function tmpfsMissing(): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-tmpfs-probe-" });
  try {
    const mounted = await mountTmpfs(dir, "4k");
    if (mounted) await umount(dir);
    return mounted ? null : "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)";
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Sets (`true`) or clears the immutable attribute of `paths`; false when it failed. */
export async function chattrImmutable(paths: string[], on: boolean): Promise<boolean> {
  return await run("chattr", [on ? "+i" : "-i", ...paths]);
}

/**
 * Null when `chattr +i` works in the temp dir and stops root from writing there, else why
 * not (not root, no chattr, or a file system without the attribute).
 */
export async function immutableMissing(): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-chattr-probe-" });
  const file = `${dir}/probe`;
  try {
    await Deno.writeTextFile(file, "x");
    if (!await chattrImmutable([file], true)) {
      return "chattr +i does not work here (needs root, e2fsprogs, and ext4/xfs/btrfs)";
    }
    try {
      await Deno.writeTextFile(file, "y");
      return "chattr +i does not stop writes here";
    } catch {
      return null;
    }
  } finally {
    await chattrImmutable([file], false);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
