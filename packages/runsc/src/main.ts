#!/usr/bin/env node
// runsc's process entry (bin/runsc runs the compiled dist/main.js).
//
// A command that runs a sandbox starts its gofer and sentry first (sandbox_prewarm.ts): they load their modules
// while this process loads the CLI (yargs, the logger, the launcher) and validates the bundle.
import { prewarmSandbox, startsSandbox } from './sandbox_prewarm.js';

const args = process.argv.slice(2);
if (startsSandbox(args)) prewarmSandbox();
const { runCli } = await import('./cli.js');
const code = await runCli(args);
// Exit explicitly: a detached sandbox left behind by `create` must not keep runsc waiting.
process.exit(code);
