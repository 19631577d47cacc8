import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { socketpair, closeFd } from '@tsvisor/native';
import { ArgvPipeError, argvPipeFd, readArgvPipe } from './argv_pipe.js';

/** Writes text into one end of a fresh socketpair, closes it, and returns the other end to read. */
function pipeWith(text: string): number {
  const [reader, writer] = socketpair();
  if (text !== '') fs.writeSync(writer, text);
  closeFd(writer);
  return reader;
}

describe('argv pipe', () => {
  it('recognises only a lone --argv-fd=N with N >= 3', () => {
    expect(argvPipeFd(['--argv-fd=5'])).toBe(5);
    expect(argvPipeFd(['--argv-fd=2'])).toBeUndefined();
    expect(argvPipeFd(['--argv-fd=5', '--id=x'])).toBeUndefined();
    expect(argvPipeFd(['--id=x'])).toBeUndefined();
  });

  it('reads the JSON string array sent before EOF', async () => {
    await expect(readArgvPipe(pipeWith(JSON.stringify(['--id=a b', '--debug'])))).resolves.toEqual(['--id=a b', '--debug']);
  });

  it('resolves undefined when the writer closed without sending', async () => {
    await expect(readArgvPipe(pipeWith(''))).resolves.toBeUndefined();
  });

  it('rejects malformed input with ArgvPipeError', async () => {
    await expect(readArgvPipe(pipeWith('["--id=x"'))).rejects.toBeInstanceOf(ArgvPipeError);
    await expect(readArgvPipe(pipeWith('{"id":"x"}'))).rejects.toThrow(/JSON array of strings/);
    await expect(readArgvPipe(pipeWith('["--id", 3]'))).rejects.toThrow(/JSON array of strings/);
  });
});
