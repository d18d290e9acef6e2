/**
 * The C library through Deno FFI, for the few calls a worker makes to start and watch a
 * job's shell itself: posix_spawn with its own session, pipes, poll, read, waitpid, kill.
 * Opened once; null where FFI is not permitted or no libc is found (the reason is kept).
 * @module
 */

const SYMBOLS = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigaddset: { parameters: ["buffer", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
  /** The address of `char **environ`. */
  environ: { type: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libc calls, bound. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Where libc is looked for, by soname (glibc, then musl on x86_64 and aarch64). */
const SONAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

/** libc, or why it cannot be used. */
export type LibcOpen =
  | { kind: "open"; libc: Libc }
  | { kind: "unavailable"; reason: string };

let opened: LibcOpen | null = null;

/**
 * Opens libc once (later calls return the first answer). Unavailable when this process may
 * not use FFI (asked first, so there is never a prompt), on a system that is not Linux, or
 * when no libc with every needed symbol loads.
 */
export function libcOpen(): LibcOpen {
  if (opened) return opened;
  opened = tryOpen();
  return opened;
}

function tryOpen(): LibcOpen {
  if (Deno.build.os !== "linux") {
    return { kind: "unavailable", reason: `not on Linux (${Deno.build.os})` };
  }
  let permitted = false;
  try {
    permitted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    // no permissions API answer: treat as not permitted
  }
  if (!permitted) return { kind: "unavailable", reason: "FFI is not permitted (--allow-ffi)" };
  const errors: string[] = [];
  for (const name of SONAMES) {
    try {
      return { kind: "open", libc: Deno.dlopen(name, SYMBOLS).symbols };
    } catch (error) {
      errors.push(`${name}: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
    }
  }
  return { kind: "unavailable", reason: `no usable libc (${errors.join("; ")})` };
}

/** A C string: the text's UTF-8 bytes and a NUL. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A NULL-terminated array of pointers to these C strings (which must outlive its use). */
export function cStringArray(strings: Uint8Array<ArrayBuffer>[]): BigUint64Array<ArrayBuffer> {
  const out = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => out[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  return out;
}

/** The message of a C error number. */
export function errnoMessage(libc: Libc, errno: number): string {
  const pointer = libc.strerror(errno);
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : `errno ${errno}`;
}

/** This process's environment as `NAME=value` strings (read from libc's `environ`). */
export function environ(libc: Libc): string[] {
  const address = libc.environ;
  const table = address && new Deno.UnsafePointerView(address).getPointer(0);
  if (!table) return [];
  const view = new Deno.UnsafePointerView(table);
  const out: string[] = [];
  for (let i = 0;; i++) {
    const entry = view.getPointer(i * 8);
    if (!entry) return out;
    out.push(Deno.UnsafePointerView.getCString(entry));
  }
}

/** The calling thread's errno (right after a failed call). */
export function errno(libc: Libc): number {
  const pointer = libc.__errno_location();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}
