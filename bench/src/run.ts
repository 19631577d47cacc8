// `make bench`: measures tsvisor against native and against peers in the same run, prints a Markdown table to paste
// into docs/benchmarks.md. A figure that cannot be measured (the workload fails under tsvisor) is shown as "—" with
// the reason, never guessed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleOutput, sampleWallMs, summarize, type Sample } from './measure.js';
import { renderMarkdown, type Row } from './report.js';
import { bigFile, busyboxBundle, compile, runsc, workDir } from './workloads.js';
import { cpuProfiles, idleMemory, netstackRows, renderNetstackMarkdown } from './netstack_tcp.js';
import { fdbasedLines } from './netstack_fdbased.js';
import { profileSandboxed, renderHotFunctions } from './profile.js';

const RUNS = Number(process.env.TSVISOR_BENCH_RUNS ?? 5);

function attempt(notes: string[], what: string, f: () => Sample): number | undefined {
  try {
    return f().median;
  } catch (err) {
    notes.push(`${what} not measured: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

function syscallRow(): Row {
  const loop = compile('getppid_loop');
  const floor = compile('notif_floor');
  const notes: string[] = [];
  const n = '200000';
  return {
    workload: 'getppid (emulated syscall)',
    unit: 'µs/call',
    better: 'lower',
    figures: {
      native: sampleOutput(loop, ['2000000'], RUNS).median / 1000,
      'C notif floor': sampleOutput(floor, [n], RUNS).median / 1000,
      tsvisor: attempt(notes, 'tsvisor', () => {
        // The loop binary lives in bench/.work, visible through `runsc do`'s view of the host root.
        const s = sampleOutput(runsc, ['do', '--', loop, n], RUNS);
        return { ...s, median: s.median / 1000 };
      }),
    },
    notes,
  };
}

function startupRow(): Row {
  const bundle = busyboxBundle('bundle-true', ['/bin/true']);
  const notes: string[] = [];
  const root = path.join(workDir, 'state');
  let id = 0;
  const runWith = (cmd: string) => (): Sample =>
    sampleWallMs('/bin/sh', ['-c', `${cmd} --root ${root} run --bundle ${bundle} bench-${process.pid}-${id++}`], RUNS);
  return {
    workload: '`run` of /bin/true (busybox bundle)',
    unit: 'ms',
    better: 'lower',
    figures: {
      runc: attempt(notes, 'runc', runWith('runc')),
      tsvisor: attempt(notes, 'tsvisor', runWith(runsc)),
    },
    notes,
  };
}

function sha256Row(): Row {
  const { file, sha256 } = bigFile(50);
  const notes: string[] = [];
  const check = (cmd: string, args: string[]) => (): Sample => {
    const out = execFileSync(cmd, args, { encoding: 'utf8' });
    if (!out.startsWith(sha256)) throw new Error(`wrong hash: ${out.trim()}`);
    return sampleWallMs(cmd, args, RUNS);
  };
  return {
    workload: 'sha256sum of a 50 MB file',
    unit: 'ms',
    better: 'lower',
    figures: {
      native: attempt(notes, 'native', check('sha256sum', [file])),
      tsvisor: attempt(notes, 'tsvisor', check(runsc, ['do', '--', 'sha256sum', file])),
    },
    notes,
  };
}

function lsRow(): Row {
  const notes: string[] = [];
  const args = ['-lR', '/usr/share/doc'];
  return {
    workload: 'ls -lR /usr/share/doc',
    unit: 'ms',
    better: 'lower',
    figures: {
      native: attempt(notes, 'native', () => sampleWallMs('/bin/ls', args, RUNS)),
      tsvisor: attempt(notes, 'tsvisor', () => sampleWallMs(runsc, ['do', '--', '/bin/ls', ...args], RUNS)),
    },
    notes,
  };
}

/** The netstack tables (issue 4): TCP against native and peers, idle memory, the link layer, a CPU profile. */
async function netstack(): Promise<void> {
  console.log(`\n## Netstack\n\nload average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log(renderNetstackMarkdown(await netstackRows()));
  for (const workers of [0, os.cpus().length]) {
    const mem = await idleMemory(workers);
    const m = summarize(mem.perConnectionKiB);
    console.log(`\nMemory per idle TCP connection (netstack tool${workers ? `, ${workers} TCP workers` : ''}): ${m.median.toFixed(2)} KiB median (${m.min.toFixed(2)}–${m.max.toFixed(2)}, ${m.runs} runs); ${mem.note}.`);
  }
  console.log('\nLink layer alone (FdBasedEndpoint over a veth, 1514-byte frames):\n');
  for (const line of await fdbasedLines()) console.log(`- ${line}`);
  for (const workers of [0, os.cpus().length]) {
    for (const p of await cpuProfiles(workers)) {
      console.log(`\nCPU profile of the netstack tool${workers ? ` with ${workers} TCP workers` : ''} during a ${p.direction} (top self time):\n`);
      for (const t of p.top) console.log(`- ${t}`);
    }
  }
  console.log(`\nload average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

/** Where the sentry's time goes in the syscall-bound and the file-bound workloads. */
function sentryProfiles(): void {
  const workloads: Array<[string, string[]]> = [
    ['getppid loop', [compile('getppid_loop'), '200000']],
    ['sha256sum of 50 MB', ['/usr/bin/sha256sum', bigFile(50).file]],
    ['ls -lR /usr/share/doc', ['/bin/ls', '-lR', '/usr/share/doc']],
  ];
  for (const [title, argv] of workloads) {
    try {
      const dir = path.join(workDir, `profile-${title.replace(/\W+/g, '-')}`);
      console.log('\n' + renderHotFunctions(title, profileSandboxed(runsc, argv, dir)));
    } catch (e) {
      console.log(`\n${title}: not profiled: ${(e as Error).message.split('\n')[0]}`);
    }
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(workDir, { recursive: true });
  // TSVISOR_BENCH_ONLY=netstack (or =sentry) runs one part.
  const only = process.env.TSVISOR_BENCH_ONLY;
  if (only !== 'netstack') {
    if (spawnSync('runc', ['--version']).status !== 0) console.error('runc not found: its column stays empty');
    // A failure here (e.g. a C workload that does not compile) must not hide the netstack tables.
    try {
      const rows = [syscallRow(), startupRow(), sha256Row(), lsRow()];
      console.log(renderMarkdown(rows, ['tsvisor', 'native', 'C notif floor', 'runc']));
      sentryProfiles();
    } catch (e) {
      console.error(`sentry table not measured: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  }
  if (only !== 'sentry') await netstack();
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
