// The control socket and the lifecycle it drives, with a scripted init (the kernel is not under test here: the
// launcher below only records calls and lets the test decide when init ends).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContainerLifecycle, type InitLauncher } from './container_lifecycle.js';
import { exitStatusToCode, parseControlRequest, parseControlResponse, type ExitStatus } from './control_protocol.js';
import { ControlServer } from './control_server.js';
import { usableSocketPath } from './socket_path.js';

class ScriptedInit implements InitLauncher {
  runs = 0;
  signals: Array<[number, boolean]> = [];
  end: (status: ExitStatus) => void = () => {};
  run(): Promise<ExitStatus> {
    this.runs++;
    return new Promise((resolve) => (this.end = resolve));
  }
  signal(signal: number, all: boolean): void {
    this.signals.push([signal, all]);
  }
  processes() {
    return [{ pid: 1, ppid: 0, uid: 0, argv: ['init'] }];
  }
  paused = false;
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

/** Sends raw lines on one connection and collects `count` response lines. */
function exchange(socketPath: string, lines: string[], count: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffered = '';
    const responses: unknown[] = [];
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(lines.map((l) => `${l}\n`).join('')));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        responses.push(JSON.parse(buffered.slice(0, newline)));
        buffered = buffered.slice(newline + 1);
      }
      if (responses.length >= count) {
        socket.destroy();
        resolve(responses);
      }
    });
    socket.on('error', reject);
  });
}

let dir: string;
let socketPath: string;
let init: ScriptedInit;
let lifecycle: ContainerLifecycle;
let server: ControlServer;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-control-'));
  socketPath = path.join(dir, 'control.sock');
  init = new ScriptedInit();
  lifecycle = new ContainerLifecycle(init);
  server = new ControlServer(socketPath, lifecycle);
  await server.listen();
});
afterEach(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('control server', () => {
  it('drives created -> running -> stopped and answers wait with the exit status', async () => {
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(await exchange(socketPath, ['{"op":"state"}'], 1)).toEqual([{ ok: true, status: 'created' }]);
    expect(await exchange(socketPath, ['{"op":"start"}'], 1)).toEqual([{ ok: true, status: 'running' }]);
    expect(init.runs).toBe(1);
    const waiting = exchange(socketPath, ['{"op":"wait"}'], 1);
    expect(await exchange(socketPath, ['{"op":"kill","signal":15,"all":true}', '{"op":"ps"}'], 2)).toEqual([
      { ok: true, status: 'running' },
      { ok: true, status: 'running', pids: [1], processes: [{ pid: 1, ppid: 0, uid: 0, argv: ['init'] }] },
    ]);
    expect(init.signals).toEqual([[15, true]]);
    expect(await exchange(socketPath, ['{"op":"pause"}', '{"op":"pause"}', '{"op":"state"}'], 3)).toEqual([
      { ok: true, status: 'paused' },
      { ok: false, code: 'EBADSTATE', error: 'cannot pause a container that is paused' },
      { ok: true, status: 'paused' },
    ]);
    expect(init.paused).toBe(true);
    expect(await exchange(socketPath, ['{"op":"resume"}'], 1)).toEqual([{ ok: true, status: 'running' }]);
    expect(init.paused).toBe(false);
    init.end({ signal: 15 });
    expect(await waiting).toEqual([{ ok: true, status: 'stopped', exit: { signal: 15 } }]);
    expect(await exchange(socketPath, ['{"op":"start"}', '{"op":"kill","signal":9}'], 2)).toEqual([
      { ok: false, code: 'EBADSTATE', error: 'cannot start a container that is stopped' },
      { ok: false, code: 'EBADSTATE', error: 'cannot signal a container that is stopped' },
    ]);
  });

  it('answers malformed requests with an error and changes nothing', async () => {
    const responses = await exchange(
      socketPath,
      ['not json', '[]', '{"op":"reboot"}', '{"op":"kill","signal":0}', '{"op":"kill","signal":9,"all":"yes"}', '{"op":"state"}'],
      6,
    );
    expect(responses.slice(0, 5).map((r) => (r as { code: string }).code)).toEqual(Array(5).fill('EPROTO'));
    expect(responses[5]).toEqual({ ok: true, status: 'created' });
    expect(init.runs).toBe(0);
  });

  it('a terminating signal before start stops the container without running init; an ignored one does not', async () => {
    await exchange(socketPath, ['{"op":"kill","signal":28}'], 1); // SIGWINCH: ignored by default
    expect(lifecycle.status()).toBe('created');
    expect(await exchange(socketPath, ['{"op":"kill","signal":9}', '{"op":"wait"}'], 2)).toEqual([
      { ok: true, status: 'stopped', exit: { signal: 9 } },
      { ok: true, status: 'stopped', exit: { signal: 9 } },
    ]);
    expect(init.runs).toBe(0);
  });

  it('a failed launch ends the container with status 127', async () => {
    const failing = new ContainerLifecycle({
      run: () => Promise.reject(new Error('exec failed')),
      signal: () => {},
      processes: () => [],
      pause: () => {},
      resume: () => {},
    });
    failing.start();
    expect(await failing.wait()).toEqual({ exitCode: 127 });
  });
});

describe('control socket paths longer than sun_path', () => {
  it('are bound and reached through a directory fd', async () => {
    const deep = path.join(dir, 'x'.repeat(60), 'y'.repeat(60));
    fs.mkdirSync(deep, { recursive: true });
    const longPath = path.join(deep, 'control.sock');
    expect(Buffer.byteLength(longPath)).toBeGreaterThan(107);
    const longServer = new ControlServer(longPath, new ContainerLifecycle(new ScriptedInit()));
    await longServer.listen();
    try {
      expect(fs.statSync(longPath).isSocket()).toBe(true);
      const usable = usableSocketPath(longPath);
      expect(usable.path).toMatch(/^\/proc\/self\/fd\/\d+\/control.sock$/);
      try {
        expect(await exchange(usable.path, ['{"op":"state"}'], 1)).toEqual([{ ok: true, status: 'created' }]);
      } finally {
        usable.release();
      }
    } finally {
      await longServer.close();
    }
    expect(fs.existsSync(longPath)).toBe(false);
  });
});

describe('control protocol', () => {
  it('maps exit statuses to shell exit codes', () => {
    expect(exitStatusToCode({ exitCode: 3 })).toBe(3);
    expect(exitStatusToCode({ signal: 9 })).toBe(137);
  });

  it('validates requests and responses at the edge', () => {
    expect(parseControlRequest('{"op":"kill","signal":15}')).toEqual({ op: 'kill', signal: 15, all: false });
    expect(parseControlRequest('{"op":"kill","signal":1.5}')).toHaveProperty('error');
    expect(parseControlResponse('{"ok":true,"status":"running","exit":{"exitCode":2}}')).toEqual({
      ok: true,
      status: 'running',
      exit: { exitCode: 2 },
    });
    expect(() => parseControlResponse('{"ok":true,"status":"dancing"}')).toThrow(/bad status/);
    expect(parseControlResponse('{"ok":false,"code":"EX","error":"no"}')).toEqual({ ok: false, code: 'EX', error: 'no' });
  });
});
