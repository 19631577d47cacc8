// A real 9P2000.L server for tests of the gofer file system: diod (Debian's 9P server, an independent
// implementation) serving a host directory on one end of a socketpair, our P9Client on the other. Until the
// project's own gofer is wired in, this is the peer the gofer fs and overlay tests run against.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { P9Client } from '@tsvisor/p9';
import { clearCloexec, closeFd, socketpair } from '@tsvisor/native';

export interface DiodPeer {
  client: P9Client;
  /** The attach name for the exported directory. */
  aname: string;
  stop(): Promise<void>;
}

const DIOD = '/usr/sbin/diod';

export function diodAvailable(): boolean {
  return existsSync(DIOD) && process.getuid?.() === 0;
}

/** Serves `dir` (and any `extra` directories, each attached by its own path) over a fresh socketpair. */
export async function startDiod(dir: string, extra: string[] = []): Promise<DiodPeer> {
  const [mine, theirs] = socketpair();
  clearCloexec(theirs);
  const child: ChildProcess = spawn(
    DIOD,
    ['-f', '-n', '-N', '--rfdno', '3', '--wfdno', '3', '-e', dir, ...extra.flatMap((d) => ['-e', d]), '-L', 'stderr', '-d', '0'],
    { stdio: ['ignore', 'ignore', 'pipe', theirs] },
  );
  closeFd(theirs);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const socket = new net.Socket({ fd: mine, readable: true, writable: true });
  try {
    const client = await P9Client.connect(socket);
    return {
      client,
      aname: dir,
      async stop() {
        client.close();
        if (child.exitCode === null) {
          const exited = new Promise((res) => child.once('exit', res));
          child.kill('SIGTERM');
          await exited;
        }
      },
    };
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`diod did not start: ${(e as Error).message}; stderr: ${stderr}`);
  }
}
