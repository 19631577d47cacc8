// Interpreter scripts (fs/binfmt_script.c; execve(2), "Interpreter scripts"): a file starting with "#!" names an
// interpreter and at most one optional argument (the whole rest of the line) on its first line.
import { SyscallError, Errno } from '../kernel/syscall_error.js';

/**
 * Linux's BINPRM_BUF_SIZE: only this much of the file's start is read (prepare_binprm reads all 256 bytes into a
 * zeroed buffer, so it is NUL-terminated only when the file is shorter).
 */
export const BINPRM_BUF_SIZE = 256;

export interface ShebangLine {
  interpreter: string;
  /** The rest of the line after the interpreter and blanks, trailing blanks removed; undefined if none. */
  arg?: string;
}

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09;
const isTerminator = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0;

/**
 * Parses the "#!" line from the first bytes of a file. Returns undefined when the file is not a script.
 * Throws ENOEXEC for a script with no interpreter name, or whose name may have been cut by the 256-byte read
 * (no newline, and no blank or NUL after the name): since Linux 5.0 a cut *argument* is accepted (the interpreter
 * can re-read the script), a cut interpreter path is not.
 */
export function parseShebang(head: Buffer): ShebangLine | undefined {
  if (head.length < 2 || head[0] !== 0x23 /* # */ || head[1] !== 0x21 /* ! */) return undefined;
  // The kernel's buffer: the file's first 256 bytes, zero-padded when the file is shorter. bufEnd is load_script's
  // buf_end, the buffer's last byte: its searches for a non-blank and for a terminator include it.
  const buf = Buffer.alloc(BINPRM_BUF_SIZE);
  head.copy(buf, 0, 0, Math.min(head.length, BINPRM_BUF_SIZE));
  const bufEnd = BINPRM_BUF_SIZE - 1;
  const nextNonBlank = (from: number, to: number): number => {
    for (let i = from; i < to; i++) if (!isBlank(buf[i]!)) return i;
    return -1;
  };
  const nextTerminator = (from: number, to: number): number => {
    for (let i = from; i < to; i++) if (isTerminator(buf[i]!)) return i;
    return -1;
  };

  let lineEnd = buf.indexOf(0x0a);
  if (lineEnd < 0) {
    const first = nextNonBlank(2, bufEnd + 1);
    if (first < 0) throw new SyscallError(Errno.ENOEXEC, '#! line of blanks only');
    if (nextTerminator(first, bufEnd + 1) < 0) throw new SyscallError(Errno.ENOEXEC, '#! interpreter path cut at 256 bytes');
    // The line ends before buf_end: a name or argument never includes the buffer's last byte.
    lineEnd = bufEnd;
  }
  while (lineEnd > 2 && isBlank(buf[lineEnd - 1]!)) lineEnd--;
  const name = nextNonBlank(2, lineEnd);
  if (name < 0) throw new SyscallError(Errno.ENOEXEC, 'interpreter script with an empty #! line');
  const sep = nextTerminator(name, lineEnd);
  const cString = (from: number, to: number): string => {
    const nul = buf.subarray(from, to).indexOf(0);
    return buf.subarray(from, nul < 0 ? to : from + nul).toString('utf8');
  };
  const line: ShebangLine = { interpreter: cString(name, sep < 0 ? lineEnd : sep) };
  // Carriage returns are not blanks: "#!/bin/sh\r" names the interpreter "/bin/sh\r", as on Linux.
  if (sep >= 0 && buf[sep] !== 0) {
    const argStart = nextNonBlank(sep, lineEnd);
    // An argument starting with a NUL is passed as "" (the kernel copies the C string at that point).
    if (argStart >= 0) line.arg = cString(argStart, lineEnd);
  }
  return line;
}
