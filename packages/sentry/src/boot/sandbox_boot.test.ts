// The boot sequence over real fds: the 9P socket (answered here by a peer that speaks just Tversion, standing in
// for the gofer), the readiness fd, the control socket and the exit status. The container's init is scripted: the
// kernel is tested in its own package areas.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { socketpair } from '@tsvisor/native';
import { decode, encode, FrameSplitter } from '@tsvisor/p9';
import type { BootOptions } from './boot_args.js';
import type { ExitStatus } from './control_protocol.js';
import { bootSandbox, type ContainerSetup } from './sandbox_boot.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-boot-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Answers Tversion on the given fd like a gofer would; returns the socket so the test can close it. */
function versionPeer(fd: number): net.Socket {
  const socket = new net.Socket({ fd, readable: true, writable: true });
  const splitter = new FrameSplitter(1 << 20);
  socket.on('data', (chunk: Buffer) => {
    for (const frame of splitter.push(chunk)) {
      const message = decode(frame);
      if (message.type === 'Tversion') socket.write(encode({ type: 'Rversion', tag: message.tag, msize: message.msize, version: '9P2000.L' }));
    }
  });
  socket.on('error', () => {});
  return socket;
}

function readLine(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

function request(socketPath: string, line: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath, () => socket.write(`${line}\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) {
        socket.destroy();
        resolve(JSON.parse(text));
      }
    });
    socket.on('error', reject);
  });
}

function bootOptions(goferFd: number, readyFd: number): BootOptions {
  const specFile = path.join(dir, 'config.json');
  fs.writeFileSync(specFile, JSON.stringify({ process: { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/' }, root: { path: '/' } }));
  return {
    id: 'c1',
    specFile,
    rootfs: '/',
    bundle: dir,
    controlSocket: path.join(dir, 'control.sock'),
    goferFd,
    readyFd,
    network: 'none',
    gso: true,
    platform: 'ptrace',
    overlay2: 'none',
    logFile: path.join(dir, 'sentry.log'),
    logFormat: 'json',
    debug: false,
  };
}

describe('bootSandbox', () => {
  it('reports ready, runs init on start, and exits with 128+N when init dies by signal N', async () => {
    const [sentryEnd, goferEnd] = socketpair();
    const [readyWrite, readyRead] = socketpair();
    const peer = versionPeer(goferEnd);
    let setup: ContainerSetup | undefined;
    let endInit: (status: ExitStatus) => void = () => {};
    const options = bootOptions(sentryEnd, readyWrite);
    const exitCode = bootSandbox(
      options,
      async (s) => {
        setup = s;
        return { run: () => new Promise((resolve) => (endInit = resolve)), signal: (sig) => endInit({ signal: sig }), processes: () => [{ pid: 1, ppid: 0, uid: 0, argv: ['init'] }], pause: () => {}, resume: () => {} };
      },
      { forwardSignals: false },
    );
    const ready = JSON.parse(await readLine(readyRead));
    expect(ready).toEqual({ ready: true, pid: process.pid });
    expect(setup?.spec.process.args).toEqual(['true']);
    expect(setup?.gofer.msize).toBeGreaterThan(0);
    expect(await request(options.controlSocket, '{"op":"start"}')).toEqual({ ok: true, status: 'running' });
    const waiting = request(options.controlSocket, '{"op":"wait"}');
    expect(await request(options.controlSocket, '{"op":"kill","signal":9}')).toMatchObject({ ok: true });
    expect(await waiting).toEqual({ ok: true, status: 'stopped', exit: { signal: 9 } });
    expect(await exitCode).toBe(137);
    expect(fs.existsSync(options.controlSocket)).toBe(false);
    const log = fs.readFileSync(options.logFile!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((l) => l.msg)).toEqual(['booting', 'created', 'container stopped']);
    peer.destroy();
  });

  it('reports a failure on the readiness fd when the gofer is gone, and exits 1', async () => {
    const [sentryEnd, goferEnd] = socketpair();
    const [readyWrite, readyRead] = socketpair();
    fs.closeSync(goferEnd);
    let built = false;
    const exitCode = bootSandbox(
      bootOptions(sentryEnd, readyWrite),
      async () => {
        built = true;
        throw new Error('unreachable');
      },
      { forwardSignals: false },
    );
    const ready = JSON.parse(await readLine(readyRead));
    expect(ready).toMatchObject({ ready: false, code: 'EGOFER' });
    expect(ready.error).toMatch(/cannot speak 9P to the gofer/);
    expect(await exitCode).toBe(1);
    expect(built).toBe(false);
  });

  it('reports the kernel side failing to build the container', async () => {
    const [sentryEnd, goferEnd] = socketpair();
    const [readyWrite, readyRead] = socketpair();
    const peer = versionPeer(goferEnd);
    const exitCode = bootSandbox(
      bootOptions(sentryEnd, readyWrite),
      async () => {
        throw Object.assign(new Error('no such file: /bin/sh'), { code: 'ENOENT' });
      },
      { forwardSignals: false },
    );
    expect(JSON.parse(await readLine(readyRead))).toEqual({ ready: false, code: 'ENOENT', error: 'no such file: /bin/sh' });
    expect(await exitCode).toBe(1);
    peer.destroy();
  });
});
