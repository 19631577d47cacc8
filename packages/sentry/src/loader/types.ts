// The contract between the ELF loader (which decides what a new image looks like) and the platform (which makes a
// task look like it: injects anonymous mmaps at a ptrace stop, writes the bytes, sets the registers). The loader
// never touches a task; it reads the executable through ExecutableSource and returns a LoadedImage plan.

/** One file the loader may read; returned by ExecutableSource.open. */
export interface ExecutableFile {
  /** The path as resolved by the VFS (used for AT_EXECFN only when the caller gives no better name). */
  path: string;
  /** Size in bytes; every header field is checked against it. */
  size: number;
  /** Reads up to `length` bytes at `offset`; a short read only at end of file. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Gives the open file back; the loader calls it once it has read what it needs, on success and on failure (the
   * buffers `read` returned stay the loader's). Optional: a source without it keeps nothing open.
   */
  release?(): void;
}

/**
 * How the loader opens files (the executable, a shebang interpreter, a PT_INTERP interpreter), implemented by the
 * VFS for the calling task's fs context (root, cwd, credentials). It must throw SyscallError with the errno Linux
 * gives for the open in execve(2): ENOENT, EACCES (no search or exec permission, not a regular file, noexec mount),
 * ELOOP, ENAMETOOLONG, ENOTDIR, ...
 */
export interface ExecutableSource {
  open(path: string): Promise<ExecutableFile>;
}

/**
 * One anonymous private mapping to create in the new image: `length` bytes at `start` (both page-aligned), of which
 * the first `contents.length` bytes are `contents` and the rest zero (bss). `prot` is PROT_READ|PROT_WRITE|PROT_EXEC
 * bits as in mmap(2). The platform maps it writable, writes `contents`, then mprotects to `prot`.
 */
export interface MappingPlan {
  start: bigint;
  length: bigint;
  prot: number;
  contents: Buffer;
  /** What the mapping is, for /proc/PID/maps and logs: the file path, '[stack]', or '' for bss/anonymous. */
  name: string;
}

/** The initial stack: `image` is the top `image.length` bytes of the stack, ending exactly at `top`. */
export interface StackPlan {
  /** Highest address of the stack mapping (exclusive, page-aligned). */
  top: bigint;
  /** Size of the stack mapping (page-aligned); the mapping is [top - size, top). */
  size: bigint;
  /** Bytes to write at [top - image.length, top). */
  image: Buffer;
  /** Initial %rsp: points at argc, 16-byte aligned (System V x86-64 ABI, section 3.4.1). */
  sp: bigint;
  /** PROT bits of the stack mapping: PROT_READ|PROT_WRITE, plus PROT_EXEC if PT_GNU_STACK has PF_X (a 64-bit
   *  program without PT_GNU_STACK gets a non-executable stack on x86_64 since Linux 5.8). */
  prot: number;
}

/** The finished plan for execve. Mappings are page-aligned, non-overlapping, sorted by start; the stack is apart. */
export interface LoadedImage {
  mappings: MappingPlan[];
  /** Where the task starts (%rip): the interpreter's entry if PT_INTERP, else the executable's e_entry. */
  entry: bigint;
  stack: StackPlan;
  /** Initial program break: page-aligned end of the executable's highest segment. */
  brkStart: bigint;
  /** Path of the file finally loaded as the executable (after shebang rewriting: the interpreter). */
  execPath: string;
  /** argv as the new program sees it (after shebang rewriting). */
  argv: string[];
  /** The auxiliary vector written to the stack, in order, ending with [AT_NULL, 0n]. */
  auxv: Array<[number, bigint]>;
  /** Load bias of the interpreter (AT_BASE), 0n when there is none. */
  interpBase: bigint;
  /** Load bias of the executable (0n for ET_EXEC), as an unsigned 64-bit value (it wraps for an ET_DYN linked high). */
  loadBias: bigint;
}

/** Where things go in the new address space; defaults in layout.ts (DEFAULT_LAYOUT). */
export interface AddressLayout {
  /** Load bias for an ET_DYN executable (PIE or static-PIE). */
  pieBase: bigint;
  /** Load bias for the PT_INTERP interpreter. */
  interpBase: bigint;
  /** Top of the initial stack (exclusive). */
  stackTop: bigint;
  /** Size of the stack mapping. */
  stackSize: bigint;
}

export interface LoadOptions {
  /** 16 random bytes for AT_RANDOM (glibc seeds the stack protector and pointer guard from them). */
  random16: Buffer;
  /** Address of the vDSO the platform maps, announced as AT_SYSINFO_EHDR; omitted when undefined. */
  vdsoBase?: bigint;
  /** AT_HWCAP (CPUID.1:EDX on x86_64); 0n when undefined. */
  hwcap?: bigint;
  /** AT_HWCAP2; omitted when undefined. */
  hwcap2?: bigint;
  uid: number;
  gid: number;
  euid?: number;
  egid?: number;
  /** AT_PLATFORM string; 'x86_64' when undefined. */
  platform?: string;
  /** AT_MINSIGSTKSZ; omitted when undefined. */
  minSigStkSz?: bigint;
  layout?: AddressLayout;
}

/** Signature of the loader entry point (loader.ts). */
export type LoadExecutable = (
  src: ExecutableSource,
  path: string,
  argv: string[],
  envp: string[],
  opts: LoadOptions,
) => Promise<LoadedImage>;
