// Serves the control protocol (control_protocol.ts) on a unix socket. Requests on one connection are answered in
// order; a slow `wait` on one connection does not delay other connections. A malformed line gets an error
// response and nothing else happens.
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { parseControlRequest, type ControlRequest, type ControlResponse } from './control_protocol.js';
import { LifecycleError, type ContainerLifecycle } from './container_lifecycle.js';
import { usableSocketPath } from './socket_path.js';

// A request is a few dozen bytes; anything this long is not a client speaking the protocol.
const MAX_LINE = 64 * 1024;

export class ControlServer {
  readonly #server: net.Server;
  readonly #path: string;
  readonly #lifecycle: ContainerLifecycle;
  readonly #logger: Logger | undefined;
  /** Open connections, each with the promise of its last queued response. */
  readonly #sockets = new Map<net.Socket, Promise<void>>();

  constructor(socketPath: string, lifecycle: ContainerLifecycle, logger?: Logger) {
    this.#path = socketPath;
    this.#lifecycle = lifecycle;
    this.#logger = logger;
    this.#server = net.createServer((socket) => this.#serve(socket));
  }

  /** Listens on the socket path (mode 0600: only root, who runs runsc, may control the sandbox). */
  async listen(): Promise<void> {
    fs.rmSync(this.#path, { force: true });
    const usable = usableSocketPath(this.#path);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject);
        this.#server.listen(usable.path, () => {
          this.#server.off('error', reject);
          resolve();
        });
      });
    } finally {
      usable.release();
    }
    fs.chmodSync(this.#path, 0o600);
  }

  /**
   * Stops accepting and ends open connections once their queued responses are written (call it after the
   * container stopped, so pending `wait`s have their answer).
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.allSettled([...this.#sockets.values()]);
    for (const socket of this.#sockets.keys()) socket.end();
    await closed;
    fs.rmSync(this.#path, { force: true });
  }

  #serve(socket: net.Socket): void {
    let queue: Promise<void> = Promise.resolve();
    this.#sockets.set(socket, queue);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        queue = queue.then(async () => {
          const response = await this.#answer(line);
          if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
        });
        if (this.#sockets.has(socket)) this.#sockets.set(socket, queue);
      }
      if (buffered.length > MAX_LINE) {
        socket.end(`${JSON.stringify({ ok: false, code: 'EPROTO', error: 'request line too long' })}\n`);
        buffered = '';
      }
    });
  }

  async #answer(line: string): Promise<ControlResponse> {
    const request = parseControlRequest(line);
    if ('error' in request) return { ok: false, code: 'EPROTO', error: request.error };
    this.#logger?.debug({ request }, 'control request');
    try {
      return await this.#dispatch(request);
    } catch (err) {
      const code = err instanceof LifecycleError ? err.code : 'EINTERNAL';
      return { ok: false, code, error: (err as Error).message };
    }
  }

  async #dispatch(request: ControlRequest): Promise<ControlResponse> {
    const lifecycle = this.#lifecycle;
    switch (request.op) {
      case 'state':
        return withExit(lifecycle, { ok: true, status: lifecycle.status() });
      case 'start':
        lifecycle.start();
        return { ok: true, status: lifecycle.status() };
      case 'kill':
        lifecycle.kill(request.signal, request.all);
        return withExit(lifecycle, { ok: true, status: lifecycle.status() });
      case 'wait': {
        const exit = await lifecycle.wait();
        return { ok: true, status: lifecycle.status(), exit };
      }
      case 'pause':
        lifecycle.pause();
        return { ok: true, status: lifecycle.status() };
      case 'resume':
        lifecycle.resume();
        return { ok: true, status: lifecycle.status() };
      case 'ps': {
        const processes = lifecycle.processes();
        return { ok: true, status: lifecycle.status(), pids: processes.map((p) => p.pid), processes };
      }
    }
  }
}

function withExit(lifecycle: ContainerLifecycle, response: ControlResponse & { ok: true }): ControlResponse {
  const exit = lifecycle.exitStatus();
  return exit ? { ...response, exit } : response;
}
