// The netstack benchmarks (issue 4): TCP throughput both ways, connection rate and 1-byte round trips between the
// host kernel and bin/netstack over a veth, beside the kernel itself over a veth and the kernel behind slirp4netns
// and pasta, all driven by one client (bench/c/tcp_bench.c). Then memory per idle TCP connection in the netstack
// tool, and a CPU profile of the tool during each transfer direction (node --cpu-prof, top self-time functions).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { sampleOutput, summarize } from './measure.js';
import { nativeServer, netstackColumn, netstackServer, pastaServer, slirpServer, type Server } from './netstack_setup.js';
import { compile, workDir } from './workloads.js';

/** At least 3 runs of every key figure; the median is kept. */
const RUNS = Math.max(3, Number(process.env.TSVISOR_BENCH_RUNS ?? 3));
const TRANSFER_BYTES = String(1 << 30);
const TRANSFER_SECONDS = '5';
const SHORT_SECONDS = '2';
const IDLE_CONNECTIONS = 1000;

export interface NetRow {
  workload: string;
  unit: string;
  better: 'lower' | 'higher';
  figures: Record<string, { median: number; min: number; max: number } | undefined>;
  notes: string[];
}

/** TCP worker counts measured beside the single-threaded stack (issue 4: "1 and N", N = the cores here). */
const WORKER_COUNTS = [1, os.cpus().length];
const WORKER_COLUMNS = WORKER_COUNTS.map((n) => netstackColumn({ gso: true, tcpWorkers: n }));
const COLUMNS = ['netstack', 'netstack (no GSO)', ...WORKER_COLUMNS, 'native', 'slirp4netns', 'pasta'];

type Measure = (s: Server, tcpBench: string) => number[];

function repeat(cmd: string, args: string[]): number[] {
  const s = sampleOutput(cmd, args, 1);
  return [s.median];
}

const workloads: { workload: string; unit: string; better: NetRow['better']; run: Measure }[] = [
  {
    workload: 'TCP download (server → host), 1 stream', unit: 'Mbit/s', better: 'higher',
    run: (s, b) => repeat(b, ['download', s.host, String(s.ports.chargen), TRANSFER_BYTES, TRANSFER_SECONDS]),
  },
  {
    workload: 'TCP upload (host → server), 1 stream', unit: 'Mbit/s', better: 'higher',
    run: (s, b) => repeat(b, ['upload', s.host, String(s.ports.discard), TRANSFER_BYTES, TRANSFER_SECONDS]),
  },
  {
    workload: 'TCP connect+close', unit: 'conn/s', better: 'higher',
    run: (s, b) => repeat(b, ['connrate', s.host, String(s.ports.discard), SHORT_SECONDS]),
  },
  {
    workload: 'TCP 1-byte round trip', unit: 'µs', better: 'lower',
    run: (s, b) => repeat(b, ['rr', s.host, String(s.ports.echo), SHORT_SECONDS]),
  },
];

/** Every workload against every server; the rounds are interleaved so a burst of load from others hits all alike. */
export async function netstackRows(): Promise<NetRow[]> {
  const tcpBench = compile('tcp_bench');
  const rows: NetRow[] = workloads.map((w) => ({ workload: w.workload, unit: w.unit, better: w.better, figures: {}, notes: [] }));
  const values: Record<string, number[]>[] = workloads.map(() => ({}));
  const starts: [string, () => Promise<Server>][] = [
    ['netstack', () => netstackServer({ gso: true })],
    ['netstack (no GSO)', () => netstackServer({ gso: false })],
    ...WORKER_COUNTS.map((n, i): [string, () => Promise<Server>] => [WORKER_COLUMNS[i]!, () => netstackServer({ gso: true, tcpWorkers: n })]),
    ['native', () => nativeServer(tcpBench)],
    ['slirp4netns', () => slirpServer(tcpBench, workDir)],
    ['pasta', () => pastaServer(tcpBench)],
  ];
  for (let round = 0; round < RUNS; round++) {
    for (const [name, start] of starts) {
      let server: Server | undefined;
      try {
        server = await start();
        for (const [i, w] of workloads.entries()) {
          try {
            (values[i]![name] ??= []).push(...w.run(server, tcpBench));
          } catch (e) {
            rows[i]!.notes.push(`${name} round ${round + 1} failed: ${(e as Error).message.split('\n')[0]}`);
          }
        }
      } catch (e) {
        for (const r of rows) r.notes.push(`${name} round ${round + 1} not started: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        await server?.close();
      }
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  for (const [i, r] of rows.entries()) {
    for (const c of COLUMNS) if (values[i]![c]?.length) r.figures[c] = summarize(values[i]![c]!);
  }
  rows[0]!.notes.push('pasta: connections from 127.0.0.1 take its splice(2) loopback bypass (pasta(1), "Local mode"), not its tap path');
  return rows;
}

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** The node process under `ip netns exec`: the child of the pid we spawned (ip execs node, so usually itself). */
function nodePid(pid: number): number {
  const exe = fs.readlinkSync(`/proc/${pid}/exe`);
  return exe.endsWith('/ip') ? Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) : pid;
}

/** Growth of the netstack tool's resident set per idle echo connection, IDLE_CONNECTIONS held open. */
export async function idleMemory(tcpWorkers = 0): Promise<{ perConnectionKiB: number[]; note: string }> {
  const tcpBench = compile('tcp_bench');
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await netstackServer({ gso: true, tcpWorkers });
    try {
      const pid = nodePid(s.pid!);
      await new Promise((r) => setTimeout(r, 500));
      const before = vmRssKiB(pid);
      const client = spawn(tcpBench, ['idle', s.host, String(s.ports.echo), String(IDLE_CONNECTIONS)], { stdio: ['pipe', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        client.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
        client.once('exit', (c) => reject(new Error(`idle client exited ${c}`)));
      });
      await new Promise((r) => setTimeout(r, 1000));
      const after = vmRssKiB(pid);
      client.stdin!.end();
      await new Promise((r) => client.once('exit', r));
      out.push((after - before) / IDLE_CONNECTIONS);
    } finally {
      await s.close();
    }
  }
  return {
    perConnectionKiB: out,
    note: `VmRSS growth of the netstack tool${tcpWorkers ? ` with ${tcpWorkers} TCP workers` : ''} with ${IDLE_CONNECTIONS} idle echo connections, per connection`,
  };
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }

/** Top self-time functions of a .cpuprofile, as "share% name (file:line)". */
export function topSelfTime(file: string, top = 12): string[] {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const [i, id] of p.samples.entries()) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} (${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : 'native'})`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1)}% ${k}`);
}

/**
 * A CPU profile of the netstack tool during one download and, separately, one upload; with `tcpWorkers`, one profile
 * per thread (node --cpu-prof writes one file per isolate: the stack's thread first, then each worker's).
 */
export async function cpuProfiles(tcpWorkers = 0): Promise<{ direction: string; top: string[] }[]> {
  const tcpBench = compile('tcp_bench');
  const result: { direction: string; top: string[] }[] = [];
  for (const [direction, mode, port] of [['download', 'download', 'chargen'], ['upload', 'upload', 'discard']] as const) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsv-prof-${process.pid}-`));
    const s = await netstackServer({ gso: true, tcpWorkers, cpuProfileDir: dir });
    try {
      // Bounded by time only (16 GiB is out of reach in 5 s), so the tool's start-up and exit are a small share.
      sampleOutput(tcpBench, [mode, s.host, String(s.ports[port]), String(16 * 2 ** 30), TRANSFER_SECONDS], 1);
    } finally {
      await s.close();
    }
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the stack's thread.
    const threadOf = (f: string) => Number(f.split('.').at(-3));
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort((a, b) => threadOf(a) - threadOf(b));
    if (files.length === 0) result.push({ direction, top: ['no profile written'] });
    for (const f of files) {
      const thread = threadOf(f) === 0 ? 'stack thread' : `worker thread ${threadOf(f)}`;
      result.push({ direction: tcpWorkers ? `${direction}, ${thread}` : direction, top: topSelfTime(path.join(dir, f)) });
      const keep = path.join(workDir, `netstack${tcpWorkers ? `-w${tcpWorkers}-t${threadOf(f)}` : ''}-${direction}.cpuprofile`);
      fs.copyFileSync(path.join(dir, f), keep);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function renderNetstackMarkdown(rows: NetRow[]): string {
  const lines = [
    `| workload | unit | ${COLUMNS.join(' | ')} | netstack / native | no GSO / native | ${WORKER_COLUMNS.map((c) => `${c.replace('netstack ', '')} / native`).join(' | ')} | slirp4netns / native | pasta / native |`,
    `| --- | --- | ${COLUMNS.map(() => '---').join(' | ')} | --- | --- | ${WORKER_COLUMNS.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  for (const r of rows) {
    const f = r.figures;
    const cell = (c: string) => (f[c] ? `${fmt(f[c]!.median)} (${fmt(f[c]!.min)}–${fmt(f[c]!.max)})` : '—');
    // "How close to native": rates divide ours by native, times divide native by ours, so 1.00 is native and less is worse.
    const rel = (c: string) => {
      const a = f[c]?.median, n = f.native?.median;
      if (!a || !n) return 'n/a';
      return (r.better === 'higher' ? a / n : n / a).toFixed(2);
    };
    lines.push(`| ${r.workload} | ${r.unit} | ${COLUMNS.map(cell).join(' | ')} | ${rel('netstack')} | ${rel('netstack (no GSO)')} | ${WORKER_COLUMNS.map(rel).join(' | ')} | ${rel('slirp4netns')} | ${rel('pasta')} |`);
  }
  const notes = rows.flatMap((r) => r.notes.map((n) => `- ${r.workload}: ${n}`));
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}
