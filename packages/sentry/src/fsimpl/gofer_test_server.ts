// Real 9P2000.L servers for tests of the gofer file system, each on one end of a socketpair with our P9Client on
// the other: diod (Debian's 9P server, an independent implementation) and the project's own gofer (@tsvisor/gofer,
// run in-process without its pivot_root confinement, which needs its own process).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { P9Client, P9ServerSession, type P9FileHandler } from '@tsvisor/p9';
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

/** The project's gofer serving `dir` (attach name '/') and `extra` directories (attach name = their path). */
export async function startProjectGofer(dir: string, extra: string[] = []): Promise<DiodPeer> {
  // Loaded by name at run time: the sentry package does not depend on the gofer package (tests only).
  const goferPackage = '@tsvisor/gofer';
  const { Gofer } = (await import(goferPackage)) as {
    Gofer: new (opts: { roots: Array<{ aname: string; path: string; readonly: boolean }> }) => P9FileHandler<unknown>;
  };
  const gofer = new Gofer({
    roots: [{ aname: '', path: dir, readonly: false }, ...extra.map((d) => ({ aname: d, path: d, readonly: false }))],
  });
  const [a, b] = socketpair();
  const serverSide = new net.Socket({ fd: b, readable: true, writable: true });
  const session = new P9ServerSession(serverSide, gofer);
  const client = await P9Client.connect(new net.Socket({ fd: a, readable: true, writable: true }));
  return {
    client,
    aname: '/',
    async stop() {
      client.close();
      serverSide.destroy();
      await session.done;
    },
  };
}

/** The 9P servers every gofer-backed test runs against (diod only when installed and running as root). */
export const NINEP_PEERS: Array<{ name: string; available: boolean; start: (dir: string, extra?: string[]) => Promise<DiodPeer> }> = [
  { name: 'diod', available: diodAvailable(), start: startDiod },
  { name: 'tsvisor gofer', available: true, start: startProjectGofer },
];
