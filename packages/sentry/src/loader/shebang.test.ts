// The "#!" line parsed as fs/binfmt_script.c parses it.
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
});
