// "Where the time goes": runs a workload under `runsc do` with V8's CPU profiler on in every Node process of the
// sandbox (runsc passes NODE_OPTIONS on to the sentry and the gofer; cpu_profile_hook.ts), and summarizes the sentry's profile as the
// functions with the most self time. The sentry's profile is the one that sampled the kernel's code.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const hook = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cpu_profile_hook.js');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

export interface HotFunction {
  name: string;
  where: string;
  percent: number;
}

/** Self time per function (by name and location), largest first, as percentages of all samples. */
export function hotFunctions(profile: CpuProfile, top: number): HotFunction[] {
  const byNode = new Map<number, number>();
  for (const id of profile.samples) byNode.set(id, (byNode.get(id) ?? 0) + 1);
  const byFunction = new Map<string, { name: string; where: string; samples: number }>();
  for (const node of profile.nodes) {
    const samples = byNode.get(node.id) ?? 0;
    if (samples === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${path.basename(url)}:${lineNumber + 1}` : '(native)';
    const key = `${functionName}@${where}`;
    const entry = byFunction.get(key) ?? { name: functionName || '(anonymous)', where, samples: 0 };
    entry.samples += samples;
    byFunction.set(key, entry);
  }
  const total = profile.samples.length || 1;
  return [...byFunction.values()]
    .sort((a, b) => b.samples - a.samples)
    .slice(0, top)
    .map((f) => ({ name: f.name, where: f.where, percent: (100 * f.samples) / total }));
}

/** Runs `runsc do -- argv` with profiling on; returns the sentry's hot functions. */
export function profileSandboxed(runsc: string, argv: string[], dir: string, top = 12): HotFunction[] {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync(runsc, ['do', '--', ...argv], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: `--import=${hook}`, TSVISOR_CPU_PROFILE_DIR: dir },
  });
  const profiles = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as CpuProfile);
  const sentry = profiles.find((p) => p.nodes.some((n) => n.callFrame.url.includes('/sentry/dist/kernel/')));
  if (!sentry) throw new Error(`no sentry profile among ${profiles.length} in ${dir}`);
  return hotFunctions(sentry, top);
}

export function renderHotFunctions(title: string, hot: HotFunction[]): string {
  return [
    `Where the sentry's time goes: ${title} (V8 CPU profile, self time)`,
    '',
    '| % | function | where |',
    '| ---: | --- | --- |',
    ...hot.map((h) => `| ${h.percent.toFixed(1)} | ${h.name} | ${h.where} |`),
  ].join('\n');
}
