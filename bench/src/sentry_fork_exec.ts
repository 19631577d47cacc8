// Cost of one fork+exec+exit+wait: a busybox shell loop runs `runs` times a static executable (busybox true) and
// a dynamic one (/bin/true with its shared libraries), inside the sandbox (`runsc do`, host root read through
// the sentry's VFS) and natively. The sandbox's start-up and shut-down are measured apart (the same command with
// a loop of 0) and taken out, so the figures are the per-iteration cost alone.
import { spawnSync } from 'node:child_process';
import { runsc } from './workloads.js';

const BUSYBOX = '/bin/busybox';

export interface ForkExecFigures {
  /** Milliseconds per fork+exec+exit+wait of static busybox inside the sandbox. */
  tsvisorStaticMs: number;
  /** The same for the dynamic /bin/true (ld.so, libc: file-backed mmaps through the sentry). */
  tsvisorDynamicMs: number;
  nativeStaticMs: number;
  nativeDynamicMs: number;
}

function loopScript(exe: string, runs: number): string {
  return `i=0; while [ $i -lt ${runs} ]; do ${exe}; i=$((i+1)); done`;
}

/** Wall-clock milliseconds of `argv`, which must exit 0. */
function timed(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  return ms;
}

function perIteration(prefix: string[], exe: string, runs: number): number {
  const empty = timed([...prefix, BUSYBOX, 'sh', '-c', loopScript(exe, 0)]);
  const full = timed([...prefix, BUSYBOX, 'sh', '-c', loopScript(exe, runs)]);
  return Math.max(0, full - empty) / runs;
}

/** Runs each loop of `runs` iterations once, sandboxed (`bin/runsc do`) and natively. */
export async function measureForkExec(runs: number): Promise<ForkExecFigures> {
  if (!Number.isInteger(runs) || runs <= 0) throw new RangeError(`runs must be a positive integer, not ${runs}`);
  const sandbox = [runsc, 'do', '--'];
  return {
    tsvisorStaticMs: perIteration(sandbox, `${BUSYBOX} true`, runs),
    tsvisorDynamicMs: perIteration(sandbox, '/bin/true', runs),
    nativeStaticMs: perIteration([], `${BUSYBOX} true`, runs),
    nativeDynamicMs: perIteration([], '/bin/true', runs),
  };
}
