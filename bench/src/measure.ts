// Timing primitives for benchmarks: run a command several times and keep the median, so one noisy run (the VM has
// two cores shared with everything else) does not decide a ratio.
import { execFileSync, spawnSync } from 'node:child_process';

export interface Sample {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(values: number[]): Sample {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** Runs a program that prints one number (e.g. ns per call) and returns the median of `runs` outputs. */
export function sampleOutput(cmd: string, args: string[], runs: number): Sample {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const value = Number.parseFloat(out.trim().split('\n').pop() ?? '');
    if (!Number.isFinite(value)) throw new Error(`${cmd} ${args.join(' ')} printed no number: ${out}`);
    values.push(value);
  }
  return summarize(values);
}

/** Wall-clock milliseconds of a whole command, median of `runs`; throws if the command fails. */
export function sampleWallMs(cmd: string, args: string[], runs: number, input?: string): Sample {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], input });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
    values.push(ms);
  }
  return summarize(values);
}
