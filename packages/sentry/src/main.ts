#!/usr/bin/env node
// The sentry's process entry: runsc starts `node packages/sentry/dist/main.js <boot args>` once per sandbox
// (sandbox_launcher.ts in runsc). The process exits with the container's exit status.
import { BootArgsError, parseBootArgs, type BootOptions } from './boot/boot_args.js';
import { createKernelInit } from './boot/kernel_init.js';
import { bootSandbox } from './boot/sandbox_boot.js';

let options: BootOptions;
try {
  options = parseBootArgs(process.argv.slice(2));
} catch (err) {
  // No readiness fd is known yet: runsc sees the exit before "ready" and reports it.
  process.stderr.write(`${err instanceof BootArgsError ? err.message : String(err)}\n`);
  process.exit(2);
}
process.exit(await bootSandbox(options, createKernelInit));
