// ELF64 header and program-header parsing (System V gABI, "ELF Header" and "Program Header"), checked field by
// field against the file: every offset and size the loader will follow is validated here, so what the rest of the
// loader sees is trusted. Anything malformed fails with the errno the caller chooses (ENOEXEC for the executable,
// ELIBBAD for its interpreter, as Linux's load_elf_binary does), never with another exception.
import { SyscallError } from '../kernel/syscall_error.js';

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;

export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;

export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PT_GNU_STACK = 0x6474e551;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/**
 * Linux reads at most this many bytes of program headers (fs/binfmt_elf.c, load_elf_phdrs: the table must fit in
 * ELF_MIN_ALIGN, one page, and be non-empty).
 */
export const MAX_PHDRS_BYTES = 4096;

/** Linux's PATH_MAX: a PT_INTERP longer than this is refused. */
export const PATH_MAX = 4096;

export interface ElfHeader {
  type: number;
  entry: bigint;
  phoff: bigint;
  phentsize: number;
  phnum: number;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

/** True when `head` starts with the ELF magic (the test Linux's ELF handler applies before claiming a file). */
export function hasElfMagic(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);
}

/** Parses and checks the ELF header (the first 64 bytes of a file of `fileSize` bytes). */
export function parseElfHeader(head: Buffer, fileSize: number, errno: number): ElfHeader {
  const bad = (why: string): never => {
    throw new SyscallError(errno, `bad ELF header: ${why}`);
  };
  if (!hasElfMagic(head)) bad('no ELF magic');
  if (head.length < EHDR_SIZE || fileSize < EHDR_SIZE) bad(`file too short (${fileSize} bytes)`);
  if (head[4] !== ELFCLASS64) bad(`class ${head[4]} is not ELFCLASS64`);
  if (head[5] !== ELFDATA2LSB) bad(`data encoding ${head[5]} is not little-endian`);
  if (head[6] !== EV_CURRENT) bad(`ident version ${head[6]}`);
  const type = head.readUInt16LE(16);
  if (type !== ET_EXEC && type !== ET_DYN) bad(`e_type ${type} is neither ET_EXEC nor ET_DYN`);
  const machine = head.readUInt16LE(18);
  if (machine !== EM_X86_64) bad(`e_machine ${machine} is not EM_X86_64`);
  // e_version (offset 20) is not checked by Linux either.
  const entry = head.readBigUInt64LE(24);
  const phoff = head.readBigUInt64LE(32);
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize !== PHDR_SIZE) bad(`e_phentsize ${phentsize} is not ${PHDR_SIZE}`);
  const tableBytes = phnum * PHDR_SIZE;
  if (tableBytes === 0 || tableBytes > MAX_PHDRS_BYTES) bad(`e_phnum ${phnum} out of range`);
  if (phoff + BigInt(tableBytes) > BigInt(fileSize)) bad(`program headers at ${phoff} run past the end of the file`);
  return { type, entry, phoff, phentsize, phnum };
}

/** Parses and checks the program-header table (`table` is exactly phnum * 56 bytes read at e_phoff). */
export function parseProgramHeaders(table: Buffer, header: ElfHeader, fileSize: number, errno: number): ProgramHeader[] {
  const bad = (i: number, why: string): never => {
    throw new SyscallError(errno, `bad program header ${i}: ${why}`);
  };
  if (table.length !== header.phnum * PHDR_SIZE) {
    throw new SyscallError(errno, 'short read of the program headers');
  }
  const size = BigInt(fileSize);
  const out: ProgramHeader[] = [];
  for (let i = 0; i < header.phnum; i++) {
    const o = i * PHDR_SIZE;
    const ph: ProgramHeader = {
      type: table.readUInt32LE(o),
      flags: table.readUInt32LE(o + 4),
      offset: table.readBigUInt64LE(o + 8),
      vaddr: table.readBigUInt64LE(o + 16),
      // p_paddr (o + 24) has no meaning for user programs.
      filesz: table.readBigUInt64LE(o + 32),
      memsz: table.readBigUInt64LE(o + 40),
      align: table.readBigUInt64LE(o + 48),
    };
    if (ph.type === PT_LOAD || ph.type === PT_INTERP) {
      if (ph.offset > size || ph.filesz > size - ph.offset) bad(i, `file range ${ph.offset}+${ph.filesz} past end of file`);
    }
    if (ph.type === PT_LOAD) {
      if (ph.filesz > ph.memsz) bad(i, `p_filesz ${ph.filesz} > p_memsz ${ph.memsz}`);
      // A segment is mapped from the file page containing p_offset at the page containing p_vaddr, so both must
      // sit at the same offset within a page (the gABI requires p_offset = p_vaddr mod p_align).
      if ((ph.offset & 0xfffn) !== (ph.vaddr & 0xfffn)) bad(i, 'p_offset and p_vaddr differ within a page');
    }
    out.push(ph);
  }
  return out;
}
