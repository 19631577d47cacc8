// runsc install: registers runsc as a Docker runtime in /etc/docker/daemon.json ("runtimes": {NAME: {path,
// runtimeArgs}}), keeping every other setting; Docker must then be restarted (or sent SIGHUP) to pick it up.
// The file is replaced atomically so a crash never leaves Docker with a half-written config.
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from './runtime_error.js';

export interface InstallRequest {
  configFile: string;
  runtimeName: string;
  /** Absolute path of the runsc executable Docker should run. */
  runscPath: string;
  runtimeArgs: string[];
}

export function installCommand(request: InstallRequest): void {
  let config: Record<string, unknown> = {};
  let text: string | undefined;
  try {
    text = fs.readFileSync(request.configFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined && text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new RuntimeError('EBADCONFIG', `${request.configFile}: not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new RuntimeError('EBADCONFIG', `${request.configFile}: must be a JSON object`);
    }
    config = parsed as Record<string, unknown>;
  }
  const runtimes = config.runtimes ?? {};
  if (typeof runtimes !== 'object' || runtimes === null || Array.isArray(runtimes)) {
    throw new RuntimeError('EBADCONFIG', `${request.configFile}: runtimes: must be an object`);
  }
  const entry: Record<string, unknown> = { path: request.runscPath };
  if (request.runtimeArgs.length > 0) entry.runtimeArgs = request.runtimeArgs;
  config.runtimes = { ...(runtimes as Record<string, unknown>), [request.runtimeName]: entry };
  fs.mkdirSync(path.dirname(request.configFile), { recursive: true });
  const temp = `${request.configFile}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  fs.renameSync(temp, request.configFile);
}
