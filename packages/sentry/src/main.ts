#!/usr/bin/env node
// The sentry's process entry: runsc starts `node packages/sentry/dist/main.js <boot args>` once per sandbox
// (sandbox_launcher.ts in runsc), or `main.js --argv-fd=N` with the boot args to follow on pipe N (runsc starts
// the sentry before it has them: sandbox_prewarm.ts). The process exits with the container's exit status.
//
// The kernel and boot modules are imported while the arguments are still on their way; only boot_args.js and
// argv_pipe.js (Node built-ins only) are loaded first.
import { BootArgsError, parseBootArgs, type BootOptions } from './boot/boot_args.js';
import { argvPipeFd, readArgvPipe } from './boot/argv_pipe.js';
import { markBootPhase } from './boot/boot_timing.js';

const modules = Promise.all([import('./boot/kernel_init.js'), import('./boot/sandbox_boot.js')]);
let argv = process.argv.slice(2);
const pipeFd = argvPipeFd(argv);
let options: BootOptions;
try {
  if (pipeFd !== undefined) {
    const sent = await readArgvPipe(pipeFd);
    // runsc closed the pipe without using this sentry (it failed first, or chose to start a fresh one).
    if (sent === undefined) process.exit(0);
    argv = sent;
    markBootPhase('arguments received');
  }
  options = parseBootArgs(argv);
} catch (err) {
  // No readiness fd is known yet: runsc sees the exit before "ready" and reports it.
  process.stderr.write(`${err instanceof BootArgsError ? err.message : `sentry: ${(err as Error).message}`}\n`);
  process.exit(2);
}
const [{ createKernelInit }, { bootSandbox }] = await modules;
markBootPhase('modules loaded');
process.exit(await bootSandbox(options, createKernelInit));
