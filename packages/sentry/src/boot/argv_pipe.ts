// Arguments delivered on an inherited pipe instead of the command line, so a process can be started before they
// are known and load its modules meanwhile: runsc starts the sentry and the gofer as soon as it sees a command
// that runs a sandbox, in parallel with its own module loading and bundle validation (sandbox_prewarm.ts in runsc).
// The writer sends one JSON array of strings and closes its end.
import fs from 'node:fs';

export class ArgvPipeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgvPipeError';
  }
}

/** Reads the JSON string array from fd until EOF. Resolves to undefined if the writer closed without sending
 * anything (runsc decided not to use this process), rejects with ArgvPipeError on anything malformed. */
export function readArgvPipe(fd: number): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = fs.createReadStream('', { fd, autoClose: true });
    stream.on('data', (chunk) => chunks.push(chunk as Buffer));
    stream.on('error', (err) => reject(new ArgvPipeError(`cannot read arguments from fd ${fd}: ${err.message}`)));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return reject(new ArgvPipeError(`arguments on fd ${fd} are not JSON: ${(err as Error).message}`));
      }
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        return reject(new ArgvPipeError(`arguments on fd ${fd} must be a JSON array of strings`));
      }
      resolve(value as string[]);
    });
  });
}

/** The one command-line flag that says "read the real arguments from this fd": --argv-fd=N. */
export function argvPipeFd(argv: string[]): number | undefined {
  if (argv.length !== 1) return undefined;
  const match = /^--argv-fd=(\d+)$/.exec(argv[0]!);
  if (!match) return undefined;
  const fd = Number(match[1]);
  return fd >= 3 ? fd : undefined;
}
