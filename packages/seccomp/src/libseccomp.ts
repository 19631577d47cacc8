// A typed binding of the part of libseccomp (2.5, seccomp.h) that tsvisor uses, through koffi. libseccomp turns
// rules into a BPF program with the architecture checks and argument comparisons done right; we only describe the
// rules. Every libseccomp call returns a negative errno on failure; `check` turns that into a SeccompError.
//
// libseccomp 2.5 has no in-memory export (seccomp_export_bpf_mem came in 2.6), so exportBpf writes the program
// into a memfd (memfd_create(2), called through koffi from libc) and reads it back.
import fs from 'node:fs';
import koffi from 'koffi';

/** A libseccomp or export failure; `errno` is the positive errno libseccomp reported. */
export class SeccompError extends Error {
  readonly code = 'ESECCOMP';
  constructor(
    readonly op: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`libseccomp ${op} failed with errno ${errno}${detail ? `: ${detail}` : ''}`);
    this.name = 'SeccompError';
  }
}

/** One argument comparison (struct scmp_arg_cmp): args[arg] <op> datumA (MASKED_EQ: (args[arg] & datumA) == datumB). */
export interface ArgCmp {
  arg: number;
  op: number;
  datumA: bigint;
  datumB?: bigint;
}

const ScmpArgCmp = koffi.struct('scmp_arg_cmp', {
  arg: 'uint32',
  op: 'int',
  datum_a: 'uint64',
  datum_b: 'uint64',
});
const ctxType = koffi.pointer('scmp_filter_ctx', koffi.opaque());

interface Lib {
  seccomp_init(defAction: number): unknown;
  seccomp_release(ctx: unknown): void;
  seccomp_arch_add(ctx: unknown, arch: number): number;
  seccomp_attr_set(ctx: unknown, attr: number, value: number): number;
  seccomp_syscall_resolve_name(name: string): number;
  seccomp_rule_add_array(ctx: unknown, action: number, syscall: number, count: number, args: object[] | null): number;
  seccomp_export_bpf(ctx: unknown, fd: number): number;
  seccomp_load(ctx: unknown): number;
  seccomp_api_get(): number;
  memfd_create(name: string, flags: number): number;
}

let lib: Lib | undefined;

function load(): Lib {
  if (lib) return lib;
  let so: ReturnType<typeof koffi.load>;
  try {
    so = koffi.load('libseccomp.so.2');
  } catch (err) {
    throw new SeccompError('load', 0, `cannot load libseccomp.so.2 (install libseccomp2): ${(err as Error).message}`);
  }
  const libc = koffi.load('libc.so.6');
  lib = {
    seccomp_init: so.func('seccomp_init', ctxType, ['uint32']),
    seccomp_release: so.func('seccomp_release', 'void', [ctxType]),
    seccomp_arch_add: so.func('seccomp_arch_add', 'int', [ctxType, 'uint32']),
    seccomp_attr_set: so.func('seccomp_attr_set', 'int', [ctxType, 'int', 'uint32']),
    seccomp_syscall_resolve_name: so.func('seccomp_syscall_resolve_name', 'int', ['const char *']),
    seccomp_rule_add_array: so.func('seccomp_rule_add_array', 'int', [
      ctxType,
      'uint32',
      'int',
      'uint',
      koffi.pointer(ScmpArgCmp),
    ]),
    seccomp_export_bpf: so.func('seccomp_export_bpf', 'int', [ctxType, 'int']),
    seccomp_load: so.func('seccomp_load', 'int', [ctxType]),
    seccomp_api_get: so.func('seccomp_api_get', 'uint', []),
    memfd_create: libc.func('memfd_create', 'int', ['const char *', 'uint']),
  } as unknown as Lib;
  return lib;
}

function check(op: string, rc: number, detail?: string): void {
  if (rc < 0) throw new SeccompError(op, -rc, detail);
}

/** libseccomp's API level (seccomp_api_get(3)): 5+ supports SCMP_ACT_NOTIFY, 6+ TSYNC together with notify. */
export function apiLevel(): number {
  return load().seccomp_api_get();
}

/** The syscall number libseccomp knows for `name` on the native architecture, or undefined. */
export function resolveSyscallName(name: string): number | undefined {
  const nr = load().seccomp_syscall_resolve_name(name);
  // __NR_SCMP_ERROR is -1; other negative numbers are libseccomp's pseudo-syscalls for calls x86_64 lacks.
  return nr >= 0 ? nr : undefined;
}

/**
 * One libseccomp filter context. Build rules, export BPF, then release() (or use `using`-style try/finally):
 * the context holds native memory that JavaScript's collector does not see.
 */
export class SeccompFilter {
  private ctx: unknown;

  constructor(defaultAction: number) {
    const l = load();
    const ctx = l.seccomp_init(defaultAction >>> 0);
    if (!ctx) throw new SeccompError('seccomp_init', 22, `default action 0x${(defaultAction >>> 0).toString(16)}`);
    this.ctx = ctx;
  }

  private get live(): unknown {
    if (this.ctx === undefined) throw new SeccompError('use', 9, 'filter context already released');
    return this.ctx;
  }

  addArch(arch: number): void {
    check('seccomp_arch_add', load().seccomp_arch_add(this.live, arch >>> 0), `arch 0x${arch.toString(16)}`);
  }

  setAttr(attr: number, value: number): void {
    check('seccomp_attr_set', load().seccomp_attr_set(this.live, attr, value >>> 0), `attribute ${attr}`);
  }

  /** Adds `action` for syscall `nr` when all comparisons hold (seccomp_rule_add_array(3)). */
  addRule(action: number, nr: number, args: ArgCmp[] = []): void {
    const arr = args.map((a) => ({ arg: a.arg, op: a.op, datum_a: a.datumA, datum_b: a.datumB ?? 0n }));
    const rc = load().seccomp_rule_add_array(this.live, action >>> 0, nr, arr.length, arr.length ? arr : null);
    check('seccomp_rule_add_array', rc, `syscall ${nr}, action 0x${(action >>> 0).toString(16)}`);
  }

  /** The filter as a classic BPF program (struct sock_filter[], 8 bytes per instruction), as seccomp(2) takes it. */
  exportBpf(): Buffer {
    const l = load();
    const fd = l.memfd_create('tsvisor-seccomp-bpf', 1 /* MFD_CLOEXEC */);
    if (fd < 0) throw new SeccompError('memfd_create', koffi.errno());
    try {
      check('seccomp_export_bpf', l.seccomp_export_bpf(this.live, fd));
      const size = fs.fstatSync(fd).size;
      const out = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const n = fs.readSync(fd, out, done, size - done, done);
        if (n === 0) break;
        done += n;
      }
      if (done !== size || size % 8 !== 0) throw new SeccompError('export', 5, `short BPF export (${done}/${size} bytes)`);
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Installs the filter on the calling process (seccomp_load(3)), with the attributes set on it (set
   * SCMP_FLTATR_CTL_TSYNC so every thread of the process, libuv's pool included, is confined). Irreversible.
   */
  loadIntoSelf(): void {
    check('seccomp_load', load().seccomp_load(this.live));
  }

  release(): void {
    if (this.ctx !== undefined) load().seccomp_release(this.ctx);
    this.ctx = undefined;
  }
}
