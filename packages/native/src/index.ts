// Loads the compiled N-API addon (built by node-gyp at install) and gives it a typed surface.
// Each area's declarations live beside it (task.ts, notif.ts, ...); this file only loads the binary.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The raw addon object; typed views of it are exported by the area modules. */
export const addon: Record<string, (...args: never[]) => unknown> = require(
  path.join(here, '..', 'build', 'Release', 'tsvisor_native.node'),
);
export * from './fd.js';
export * from './task.js';
export * from './ptrace.js';
export * from './memory.js';
export * from './notif.js';
export * from './packet.js';
export * from './mount.js';
export * from './caps.js';
