// The stub: the tiny program every task exec's first (from a memfd, so no host path is visible). It gives the
// task a clean address space holding one page of our code: a `syscall` instruction at a fixed address that the
// platform re-uses to inject system calls (mmap, munmap, mprotect, ...) at ptrace stops, also after the
// application's own image has been replaced. If the stub ever runs by itself it exits with status 127.
//
// The ELF is written here byte by byte (elf(5)): one ELF64 header, one PT_LOAD program header, and the code.

/** Where the stub's single page is mapped (above mmap_min_addr = 64 KiB, below where programs load). */
export const STUB_BASE = 0x10000n;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const CODE_OFFSET = EHDR_SIZE + PHDR_SIZE;

// mov eax, 231 (exit_group); mov edi, 127; syscall; jmp .-2 (never reached)
const CODE = Buffer.from([0xb8, 0xe7, 0x00, 0x00, 0x00, 0xbf, 0x7f, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xfe]);
const SYSCALL_OFFSET_IN_CODE = 10;

/** Address of the stub's `syscall` instruction (0f 05). */
export const STUB_SYSCALL_INSN = STUB_BASE + BigInt(CODE_OFFSET + SYSCALL_OFFSET_IN_CODE);
/** The stub's mapping [STUB_BASE, STUB_END): never unmapped by execve emulation. */
export const STUB_END = STUB_BASE + 0x1000n;

function buildStub(): Buffer {
  const size = CODE_OFFSET + CODE.length;
  const b = Buffer.alloc(size);
  // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  b.writeUInt16LE(2, 16); // e_type ET_EXEC
  b.writeUInt16LE(62, 18); // e_machine EM_X86_64
  b.writeUInt32LE(1, 20); // e_version
  b.writeBigUInt64LE(STUB_BASE + BigInt(CODE_OFFSET), 24); // e_entry
  b.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // e_phoff
  b.writeBigUInt64LE(0n, 40); // e_shoff
  b.writeUInt32LE(0, 48); // e_flags
  b.writeUInt16LE(EHDR_SIZE, 52); // e_ehsize
  b.writeUInt16LE(PHDR_SIZE, 54); // e_phentsize
  b.writeUInt16LE(1, 56); // e_phnum
  b.writeUInt16LE(64, 58); // e_shentsize
  b.writeUInt16LE(0, 60); // e_shnum
  b.writeUInt16LE(0, 62); // e_shstrndx
  const ph = EHDR_SIZE;
  b.writeUInt32LE(1, ph); // p_type PT_LOAD
  b.writeUInt32LE(5, ph + 4); // p_flags PF_R | PF_X
  b.writeBigUInt64LE(0n, ph + 8); // p_offset
  b.writeBigUInt64LE(STUB_BASE, ph + 16); // p_vaddr
  b.writeBigUInt64LE(STUB_BASE, ph + 24); // p_paddr
  b.writeBigUInt64LE(BigInt(size), ph + 32); // p_filesz
  b.writeBigUInt64LE(BigInt(size), ph + 40); // p_memsz
  b.writeBigUInt64LE(0x1000n, ph + 48); // p_align
  CODE.copy(b, CODE_OFFSET);
  return b;
}

/** The stub's ELF file. */
export const STUB_ELF: Buffer = buildStub();
