// The "#!" line parsed as fs/binfmt_script.c parses it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { parseShebang } from './shebang.js';

const parse = (s: string | Buffer) => parseShebang(typeof s === 'string' ? Buffer.from(s) : s);
function errno(s: string): number {
  try {
    parse(s);
  } catch (e) {
    expect(e).toBeInstanceOf(SyscallError);
    return (e as SyscallError).errno;
  }
  throw new Error('expected ENOEXEC');
}

describe('parseShebang', () => {
  it('is undefined for files that are not scripts', () => {
    expect(parse('')).toBeUndefined();
    expect(parse('#')).toBeUndefined();
    expect(parse('# !/bin/sh\n')).toBeUndefined();
    expect(parse('\x7fELF')).toBeUndefined();
  });

  it('takes the interpreter and the whole rest of the line as one argument', () => {
    expect(parse('#!/bin/sh\n')).toEqual({ interpreter: '/bin/sh' });
    expect(parse('#!/bin/sh')).toEqual({ interpreter: '/bin/sh' }); // no newline, short file
    expect(parse('#! \t/usr/bin/env  python3 -u  \t\nrest')).toEqual({ interpreter: '/usr/bin/env', arg: 'python3 -u' });
    expect(parse('#!/bin/awk -f\n')).toEqual({ interpreter: '/bin/awk', arg: '-f' });
  });

  it('treats CR as part of the name and NUL as the end of a string, as Linux does', () => {
    expect(parse('#!/bin/sh\r\n')).toEqual({ interpreter: '/bin/sh\r' });
    expect(parse('#!/bin/sh -x\r\n')).toEqual({ interpreter: '/bin/sh', arg: '-x\r' });
    expect(parse('#!/bin/sh\0junk\n')).toEqual({ interpreter: '/bin/sh' });
    expect(parse('#!/bin/sh a\0b\n')).toEqual({ interpreter: '/bin/sh', arg: 'a' });
  });

  it('refuses empty lines and interpreter names cut by the 256-byte buffer with ENOEXEC', () => {
    expect(errno('#!\n')).toBe(Errno.ENOEXEC);
    expect(errno('#!  \t \n')).toBe(Errno.ENOEXEC);
    expect(errno(`#!${' '.repeat(300)}`)).toBe(Errno.ENOEXEC);
    expect(errno(`#!/${'x'.repeat(260)}`)).toBe(Errno.ENOEXEC);
    // The name ends inside the buffer and the argument is cut: accepted, with the argument cut.
    const cut = parse(`#!/bin/sh ${'y'.repeat(400)}`)!;
    expect(cut.interpreter).toBe('/bin/sh');
    expect(cut.arg).toBe('y'.repeat(255 - 10));
  });

  it('reads all 256 bytes, as the host kernel does, when the line ends at the buffer\'s last byte', () => {
    // An interpreter path of 253 bytes: "#!" + path fills bytes 0..254; byte 255 is what the kernel sees last.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-shebang-'));
    try {
      const interp = path.join(dir, 'i'.repeat(253 - dir.length - 1));
      expect(interp.length).toBe(253);
      fs.symlinkSync('/bin/echo', interp);
      const cases: Record<string, string> = {
        newlineAt255: `#!${interp}\n`, // the newline is byte 255
        eofAt255: `#!${interp}`, // 255-byte file: byte 255 is the kernel's zero padding
        blankAt255: `#!${interp} zzzz`, // no newline in the buffer; byte 255 is a blank
      };
      for (const [name, text] of Object.entries(cases)) {
        const script = path.join(dir, name);
        fs.writeFileSync(script, text, { mode: 0o755 });
        // The host kernel accepts each one: echo prints the script's path and the argument.
        expect(execFileSync(script, ['A'], { encoding: 'utf8' }), name).toBe(`${script} A\n`);
        expect(parse(fs.readFileSync(script)), name).toEqual({ interpreter: interp });
      }
      // One byte more and the path is cut: refused by both.
      const cut = path.join(dir, 'cut');
      fs.writeFileSync(cut, `#!${interp}x${'y'.repeat(10)}`, { mode: 0o755 });
      // (Node spawns through execvp, which runs a file the kernel refuses with ENOEXEC by /bin/sh: the "#!" line is
      // then a comment and nothing is printed; had the kernel accepted, echo or an ENOENT would show.)
      expect(execFileSync(cut, [], { encoding: 'utf8' })).toBe('');
      expect(errno(fs.readFileSync(cut).toString('latin1'))).toBe(Errno.ENOEXEC);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
