// execve's loader: reads an executable through the task's VFS and returns the plan of the new image (mappings,
// entry point, initial stack). It follows Linux's fs/exec.c, fs/binfmt_script.c and fs/binfmt_elf.c; where Linux
// would fail after the point of no return (killing the process), we fail before it with ENOEXEC (ELIBBAD for the
// interpreter), so a bad file never leaves a task without an image.
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { AT, CLOCK_TICKS_PER_SECOND } from './auxv.js';
import {
  EHDR_SIZE,
  ET_DYN,
  PF_R,
  PF_W,
  PF_X,
  PATH_MAX,
  PHDR_SIZE,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  hasElfMagic,
  parseElfHeader,
  parseProgramHeaders,
  type ElfHeader,
  type ProgramHeader,
} from './elf.js';
import { buildInitialStack, checkArgumentLimits } from './initial_stack.js';
import {
  DEFAULT_LAYOUT,
  MMAP_MIN_ADDR,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  pageDown,
  pageUp,
} from './layout.js';
import { BINPRM_BUF_SIZE, parseShebang } from './shebang.js';
import type { AddressLayout, ExecutableFile, ExecutableSource, LoadedImage, LoadExecutable, LoadOptions, MappingPlan } from './types.js';

/**
 * How many interpreter rewrites execve follows (fs/exec.c, exec_binprm: more than 5 levels of "#!" fail with
 * ELOOP): five scripts in a chain may end in a binary, a sixth script is refused.
 */
export const MAX_INTERPRETER_DEPTH = 5;

/**
 * Most bytes of one ELF file the loader reads into the plan (the sum over its PT_LOAD segments). Linux maps an
 * executable lazily and has no such limit; the sentry copies segments into memory, so without a bound a huge file,
 * or many segments mapping the same file range, would have it allocate without limit (or hit Node's Buffer size
 * limit with a RangeError instead of an errno). Past it execve fails with ENOMEM, as when the kernel runs out.
 */
export const MAX_IMAGE_FILE_BYTES = 1024 * 1024 * 1024;

/** One ELF file laid out at its load bias. */
interface LoadedElf {
  header: ElfHeader;
  phdrs: ProgramHeader[];
  bias: bigint;
  mappings: MappingPlan[];
  /** Address of the program headers in the image (AT_PHDR), 0n if no PT_LOAD holds them. */
  phdrAddr: bigint;
  /** Page-aligned end of the highest segment (the initial program break). */
  end: bigint;
}

/** Reads exactly [offset, offset + length) or up to end of file, looping over short reads. */
async function readRange(file: ExecutableFile, offset: number, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < length) {
    const b = await file.read(offset + got, length - got);
    if (b.length === 0) break;
    parts.push(b.length > length - got ? b.subarray(0, length - got) : b);
    got += Math.min(b.length, length - got);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
}

function protOf(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/**
 * Adds `m` to `list`, taking its pages away from mappings added before: a later PT_LOAD mapped MAP_FIXED over an
 * earlier one replaces the shared page, as it does on Linux.
 */
function paint(list: MappingPlan[], m: MappingPlan): void {
  const mEnd = m.start + m.length;
  const out: MappingPlan[] = [];
  for (const old of list) {
    const oEnd = old.start + old.length;
    if (oEnd <= m.start || old.start >= mEnd) {
      out.push(old);
      continue;
    }
    if (old.start < m.start) {
      const len = m.start - old.start;
      out.push({ ...old, length: len, contents: old.contents.subarray(0, Number(len < BigInt(old.contents.length) ? len : BigInt(old.contents.length))) });
    }
    if (oEnd > mEnd) {
      const cut = mEnd - old.start;
      const contents = cut < BigInt(old.contents.length) ? old.contents.subarray(Number(cut)) : Buffer.alloc(0);
      out.push({ ...old, start: mEnd, length: oEnd - mEnd, contents });
    }
  }
  out.push(m);
  list.splice(0, list.length, ...out);
}

function overlaps(a: MappingPlan[], start: bigint, end: bigint): boolean {
  return a.some((m) => m.start < end && start < m.start + m.length);
}

/** Largest power-of-two p_align of the PT_LOADs, at least a page (Linux's maximum_alignment). */
function maxAlignment(phdrs: ProgramHeader[]): bigint {
  let align = PAGE_SIZE;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD || ph.align <= align) continue;
    if ((ph.align & (ph.align - 1n)) === 0n) align = ph.align;
  }
  return align;
}

interface ParsedElf {
  header: ElfHeader;
  phdrs: ProgramHeader[];
}

/** Reads and checks an ELF file's headers; malformed ones fail with `errno`. */
async function readElf(file: ExecutableFile, head: Buffer, errno: number): Promise<ParsedElf> {
  const header = parseElfHeader(head.length >= EHDR_SIZE ? head : await readRange(file, 0, EHDR_SIZE), file.size, errno);
  const table = await readRange(file, Number(header.phoff), header.phnum * PHDR_SIZE);
  return { header, phdrs: parseProgramHeaders(table, header, file.size, errno) };
}

/**
 * Lays out one ELF file. `base` is where an ET_DYN file's lowest page goes (ignored for ET_EXEC); `stack` is the
 * stack's [start, end), which no segment may touch. Unloadable files fail with `errno`.
 */
async function layoutElf(
  file: ExecutableFile,
  { header, phdrs }: ParsedElf,
  base: bigint,
  errno: number,
  stack: [bigint, bigint],
): Promise<LoadedElf> {
  const bad = (why: string): never => {
    throw new SyscallError(errno, `${file.path}: ${why}`);
  };
  const loads = phdrs.filter((ph) => ph.type === PT_LOAD && ph.memsz > 0n);
  if (loads.length === 0) bad('no loadable segment');

  let bias = 0n;
  if (header.type === ET_DYN) {
    const first = pageDown(loads[0]!.vaddr);
    const align = maxAlignment(phdrs);
    // May be negative (an ET_DYN linked above `base`): Linux's unsigned arithmetic wraps the same way, and every
    // address is computed as p_vaddr + bias and checked below.
    bias = (base - first) & ~(align - 1n);
  }
  if (header.entry + bias < 0n || header.entry + bias >= TASK_SIZE) bad(`entry point ${header.entry.toString(16)} outside the address space`);

  // Every segment is checked, and the bytes to read are counted, before anything is read.
  const segments: Array<{ ph: ProgramHeader; start: bigint; segEnd: bigint; fileStart: bigint; readEnd: bigint }> = [];
  let readTotal = 0n;
  for (const ph of loads) {
    const start = pageDown(ph.vaddr + bias);
    const segEnd = pageUp(ph.vaddr + bias + ph.memsz);
    if (start < MMAP_MIN_ADDR) bad(`segment at ${start.toString(16)} below mmap_min_addr`);
    if (ph.vaddr + bias + ph.memsz > TASK_SIZE) bad(`segment at ${start.toString(16)} beyond the address space`);
    if (start < stack[1] && stack[0] < segEnd) bad(`segment at ${start.toString(16)} overlaps the stack`);
    // Linux maps whole file pages: a segment without bss shows the file's bytes up to its last page's end; with
    // bss the tail of the last file page is zeroed (padzero).
    const fileStart = pageDown(ph.offset);
    const fileEnd = ph.memsz > ph.filesz ? ph.offset + ph.filesz : pageUp(ph.offset + ph.filesz);
    const readEnd = fileEnd < BigInt(file.size) ? fileEnd : BigInt(file.size);
    if (readEnd > fileStart) readTotal += readEnd - fileStart;
    segments.push({ ph, start, segEnd, fileStart, readEnd });
  }
  if (readTotal > BigInt(MAX_IMAGE_FILE_BYTES)) {
    throw new SyscallError(Errno.ENOMEM, `${file.path}: segments hold ${readTotal} bytes of the file, over the loader's ${MAX_IMAGE_FILE_BYTES}`);
  }

  const mappings: MappingPlan[] = [];
  let end = 0n;
  for (const { ph, start, segEnd, fileStart, readEnd } of segments) {
    const contents = readEnd > fileStart ? await readRange(file, Number(fileStart), Number(readEnd - fileStart)) : Buffer.alloc(0);
    if (ph.filesz > 0n && BigInt(contents.length) < ph.offset + ph.filesz - fileStart) bad('short read of a segment');
    paint(mappings, { start, length: segEnd - start, prot: protOf(ph.flags), contents, name: file.path });
    if (segEnd > end) end = segEnd;
  }
  mappings.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));

  // AT_PHDR: where the program headers are in memory, found through the PT_LOAD whose file range holds them
  // (fs/binfmt_elf.c since 5.18; a PT_PHDR entry is not needed).
  let phdrAddr = 0n;
  for (const ph of loads) {
    if (ph.offset <= header.phoff && header.phoff < ph.offset + ph.filesz) {
      phdrAddr = header.phoff - ph.offset + ph.vaddr + bias;
      break;
    }
  }
  return { header, phdrs, bias, mappings, phdrAddr, end };
}

/** The PT_INTERP path of `file`, or undefined (the first PT_INTERP counts, as on Linux). */
async function interpreterPath(file: ExecutableFile, phdrs: ProgramHeader[]): Promise<string | undefined> {
  const ph = phdrs.find((p) => p.type === PT_INTERP);
  if (!ph) return undefined;
  if (ph.filesz < 2n || ph.filesz > BigInt(PATH_MAX)) {
    throw new SyscallError(Errno.ENOEXEC, `${file.path}: PT_INTERP of ${ph.filesz} bytes`);
  }
  const raw = await readRange(file, Number(ph.offset), Number(ph.filesz));
  if (raw.length !== Number(ph.filesz) || raw[raw.length - 1] !== 0) {
    throw new SyscallError(Errno.ENOEXEC, `${file.path}: PT_INTERP is not NUL-terminated`);
  }
  const path = raw.subarray(0, raw.indexOf(0)).toString('utf8');
  if (path === '') throw new SyscallError(Errno.ENOENT, `${file.path}: empty PT_INTERP path`);
  return path;
}

function checkLayout(l: AddressLayout): void {
  const aligned = (v: bigint): boolean => v >= 0n && v % PAGE_SIZE === 0n;
  if (![l.pieBase, l.interpBase, l.stackTop, l.stackSize].every(aligned) || l.stackSize === 0n) {
    throw new SyscallError(Errno.EINVAL, 'loader layout addresses must be page-aligned and the stack non-empty');
  }
  if (l.stackTop > TASK_SIZE || l.stackSize > l.stackTop) {
    throw new SyscallError(Errno.EINVAL, 'loader layout puts the stack outside the address space');
  }
}

/**
 * Loads `path` for execve(path, argv, envp): follows "#!" scripts, loads the ELF executable and its PT_INTERP
 * interpreter, and builds the initial stack. Throws only SyscallError: the source's open errors as they are,
 * ENOEXEC for a file no handler accepts or a malformed executable, ELIBBAD for a malformed interpreter, ELOOP
 * past MAX_INTERPRETER_DEPTH scripts, E2BIG for arguments over Linux's limits, ENOMEM for a file whose segments
 * hold more than MAX_IMAGE_FILE_BYTES.
 */
export async function loadExecutable(
  src: ExecutableSource,
  path: string,
  argv: string[],
  envp: string[],
  opts: LoadOptions,
): Promise<LoadedImage> {
  // Every file opened (scripts, the executable, its interpreter) is released once the plan is built or the load
  // failed: the plan holds copies of the bytes it needs, not the files.
  const opened: ExecutableFile[] = [];
  const tracked: ExecutableSource = {
    open: async (p) => {
      const f = await src.open(p);
      opened.push(f);
      return f;
    },
  };
  try {
    return await planImage(tracked, path, argv, envp, opts);
  } finally {
    for (const f of opened) f.release?.();
  }
}

/** loadExecutable's work, on a source whose files loadExecutable releases. */
const planImage: LoadExecutable = async (src, path, argv, envp, opts) => {
  const layout = opts.layout ?? DEFAULT_LAYOUT;
  checkLayout(layout);
  if (opts.random16.length !== 16) throw new SyscallError(Errno.EINVAL, 'AT_RANDOM needs 16 bytes');
  // Since Linux 5.18 an empty argv becomes [""], so that argv[0] always exists (fs/exec.c, do_execveat_common).
  let args = argv.length === 0 ? [''] : argv.slice();
  const env = envp.slice();
  const stackRange: [bigint, bigint] = [layout.stackTop - layout.stackSize, layout.stackTop];
  const execfn = Buffer.from(path);
  checkArgumentLimits(args.map((s) => Buffer.from(s)), env.map((s) => Buffer.from(s)), layout.stackSize, execfn);

  let current = path;
  let file: ExecutableFile;
  let head: Buffer;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INTERPRETER_DEPTH) throw new SyscallError(Errno.ELOOP, `${path}: too many levels of #! interpreters`);
    file = await src.open(current);
    head = await readRange(file, 0, Math.min(file.size, Math.max(BINPRM_BUF_SIZE, EHDR_SIZE)));
    if (hasElfMagic(head)) break;
    const line = parseShebang(head);
    if (!line) throw new SyscallError(Errno.ENOEXEC, `${current}: not an ELF file or a #! script`);
    // binfmt_script: argv[0] is dropped and replaced by: interpreter, optional argument, the script's path.
    args = [line.interpreter, ...(line.arg !== undefined ? [line.arg] : []), current, ...args.slice(1)];
    current = line.interpreter;
  }
  const argBufs = args.map((s) => Buffer.from(s));
  const envBufs = env.map((s) => Buffer.from(s));
  checkArgumentLimits(argBufs, envBufs, layout.stackSize, execfn);

  const parsed = await readElf(file, head, Errno.ENOEXEC);
  const interpName = await interpreterPath(file, parsed.phdrs);
  // ET_DYN without PT_INTERP is a "loader" (static-PIE, or ld.so run directly): Linux puts it in the mmap region,
  // away from where the programs it may load go; PIE programs go to ELF_ET_DYN_BASE (layout.pieBase).
  const exeBase = interpName === undefined ? layout.interpBase : layout.pieBase;
  const exe = await layoutElf(file, parsed, exeBase, Errno.ENOEXEC, stackRange);

  let interp: LoadedElf | undefined;
  if (interpName !== undefined) {
    const ifile = await src.open(interpName);
    const ihead = await readRange(ifile, 0, Math.min(ifile.size, EHDR_SIZE));
    if (!hasElfMagic(ihead)) throw new SyscallError(Errno.ELIBBAD, `${interpName}: interpreter is not an ELF file`);
    interp = await layoutElf(ifile, await readElf(ifile, ihead, Errno.ELIBBAD), layout.interpBase, Errno.ELIBBAD, stackRange);
    for (const m of interp.mappings) {
      if (overlaps(exe.mappings, m.start, m.start + m.length)) {
        throw new SyscallError(Errno.ELIBBAD, `${interpName}: interpreter overlaps ${file.path} at ${m.start.toString(16)}`);
      }
    }
  }

  let execStack = false;
  for (const ph of exe.phdrs) if (ph.type === PT_GNU_STACK) execStack = (ph.flags & PF_X) !== 0; // the last one counts

  const uid = opts.uid;
  const gid = opts.gid;
  const euid = opts.euid ?? uid;
  const egid = opts.egid ?? gid;
  const entry = exe.header.entry + exe.bias;
  const platform = opts.platform ?? 'x86_64';
  const stack = buildInitialStack(
    layout.stackTop,
    layout.stackSize,
    {
      argv: argBufs,
      envp: envBufs,
      execfn,
      platform: Buffer.from(platform),
      random16: opts.random16,
    },
    (addrs) => {
      // The order of create_elf_tables (fs/binfmt_elf.c), with x86_64's ARCH_DLINFO first.
      const auxv: Array<[number, bigint]> = [];
      if (opts.vdsoBase !== undefined) auxv.push([AT.SYSINFO_EHDR, opts.vdsoBase]);
      if (opts.minSigStkSz !== undefined) auxv.push([AT.MINSIGSTKSZ, opts.minSigStkSz]);
      auxv.push(
        [AT.HWCAP, opts.hwcap ?? 0n],
        [AT.PAGESZ, PAGE_SIZE],
        [AT.CLKTCK, CLOCK_TICKS_PER_SECOND],
        [AT.PHDR, exe.phdrAddr],
        [AT.PHENT, BigInt(PHDR_SIZE)],
        [AT.PHNUM, BigInt(exe.header.phnum)],
        [AT.BASE, interp ? BigInt.asUintN(64, interp.bias) : 0n],
        [AT.FLAGS, 0n],
        [AT.ENTRY, entry],
        [AT.UID, BigInt(uid)],
        [AT.EUID, BigInt(euid)],
        [AT.GID, BigInt(gid)],
        [AT.EGID, BigInt(egid)],
        // Set-id execution is the only secure mode the sentry can produce (no LSMs, no file capabilities).
        [AT.SECURE, uid !== euid || gid !== egid ? 1n : 0n],
        [AT.RANDOM, addrs.random],
      );
      if (opts.hwcap2 !== undefined) auxv.push([AT.HWCAP2, opts.hwcap2]);
      auxv.push([AT.EXECFN, addrs.execfn]);
      if (addrs.platform !== undefined) auxv.push([AT.PLATFORM, addrs.platform]);
      return auxv;
    },
  );

  const mappings = [...exe.mappings, ...(interp?.mappings ?? [])].sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
  );
  return {
    mappings,
    entry: interp ? interp.header.entry + interp.bias : entry,
    stack: {
      top: layout.stackTop,
      size: layout.stackSize,
      image: stack.image,
      sp: stack.sp,
      prot: PROT_READ | PROT_WRITE | (execStack ? PROT_EXEC : 0),
    },
    brkStart: exe.end,
    execPath: file.path,
    argv: args,
    auxv: stack.auxv,
    interpBase: interp ? BigInt.asUintN(64, interp.bias) : 0n,
    loadBias: BigInt.asUintN(64, exe.bias),
  };
};
