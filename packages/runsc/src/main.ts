#!/usr/bin/env node
// runsc's process entry (bin/runsc runs the compiled dist/main.js).
import { hideBin } from 'yargs/helpers';
import { runCli } from './cli.js';

const code = await runCli(hideBin(process.argv));
// Exit explicitly: a detached sandbox left behind by `create` must not keep runsc waiting.
process.exit(code);
