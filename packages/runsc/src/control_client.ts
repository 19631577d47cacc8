// runsc's side of the control socket: one connection per request, one JSON line each way (control_protocol.ts).
import net from 'node:net';
import { parseControlResponse, usableSocketPath, type ControlRequest, type ControlResponse } from '@tsvisor/sentry/boot';
import { RuntimeError } from './runtime_error.js';

export type ControlSuccess = Extract<ControlResponse, { ok: true }>;

/** The sentry answered, and said no (e.g. start of a running container): the sandbox itself is fine. */
export class SandboxRefused extends RuntimeError {
  readonly sentryCode: string;
  constructor(op: string, sentryCode: string, message: string) {
    super(sentryCode === 'EBADSTATE' ? 'EBADSTATE' : 'ESANDBOX', `sandbox refused "${op}": ${message}`);
    this.sentryCode = sentryCode;
  }
}

/**
 * Sends `request` to the sentry listening on `socketPath` and returns its answer. A refused or broken connection
 * and an error answer are ESANDBOX errors carrying the sentry's message. `timeoutMs` 0 waits forever (for wait).
 */
export function controlRequest(socketPath: string, request: ControlRequest, timeoutMs = 10_000): Promise<ControlSuccess> {
  return new Promise((resolve, reject) => {
    let usable: ReturnType<typeof usableSocketPath>;
    try {
      usable = usableSocketPath(socketPath);
    } catch (err) {
      reject(new RuntimeError('ESANDBOX', `cannot reach the sandbox at ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
      return;
    }
    const socket = net.createConnection(usable.path);
    let buffered = '';
    let settled = false;
    const finish = (error: Error | undefined, response?: ControlSuccess) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      usable.release();
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(() => finish(new RuntimeError('ESANDBOX', `sandbox did not answer "${request.op}" within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      usable.release();
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      let response: ControlResponse;
      try {
        response = parseControlResponse(buffered.slice(0, newline));
      } catch (err) {
        finish(new RuntimeError('ESANDBOX', (err as Error).message));
        return;
      }
      if (!response.ok) finish(new SandboxRefused(request.op, response.code, response.error));
      else finish(undefined, response);
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(new RuntimeError('ESANDBOX', `cannot reach the sandbox at ${socketPath}: ${err.code ?? err.message}`)),
    );
    socket.on('close', () =>
      finish(new RuntimeError('ESANDBOX', `the sandbox closed the control connection before answering "${request.op}"`)),
    );
  });
}
