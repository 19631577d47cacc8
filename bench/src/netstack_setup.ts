// The servers the netstack benchmarks talk to, each in a network namespace of its own with a unique name (the pid is
// in every name) that `close()` removes: the netstack tool over a veth, the kernel over a veth, and the kernel
// behind slirp4netns and pasta (reached through their port forwarding on 127.0.0.1). Every server offers echo (7),
// discard (9) and chargen (19); `ports` maps those to what the host dials.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { repoRoot } from './workloads.js';

export interface Server {
  name: string;
  host: string;
  ports: { echo: number; discard: number; chargen: number };
  /** The process whose memory and CPU profile are of interest (the netstack tool). */
  pid?: number;
  close(): Promise<void>;
}

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let seq = 0;

/** Spawns `cmd` and resolves once a stdout line satisfies `ready` (or rejects after `ms`). */
function spawnReady(cmd: string, args: string[], ready: (line: string) => boolean, ms = 15_000): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} not ready after ${ms} ms: ${err}`)); }, ms);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').some(ready)) { clearTimeout(timer); resolve(child); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code} before ready: ${err.trim()}`)); });
  });
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill(signal);
  });
}

interface Veth { ns: string; hostIf: string; nsIf: string; hostAddr: string; nsAddr: string; remove(): void }

/** A namespace with a veth to the host: host side .1/24, namespace side .2/24, MTU 1500 (both offloads on). */
function vethNamespace(tag: string): Veth {
  const n = seq++;
  const ns = `tsvn${tag}${process.pid}`;
  const hostIf = `h${tag}${process.pid}`.slice(0, 15);
  const nsIf = `n${tag}${process.pid}`.slice(0, 15);
  // Only one veth namespace exists at a time, but distinct subnets keep a leftover from a failed round out of the way.
  const net = `10.${240 + (n % 12)}.${process.pid % 250}`;
  sh('ip', 'netns', 'add', ns);
  const remove = () => {
    try { sh('ip', 'link', 'del', hostIf); } catch { /* gone with the namespace */ }
    try { sh('ip', 'netns', 'del', ns); } catch { /* already gone */ }
  };
  try {
    sh('ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    sh('ip', 'link', 'set', nsIf, 'netns', ns);
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', nsIf);
    sh('ip', '-n', ns, 'link', 'set', nsIf, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${hostIf}.disable_ipv6=1`);
    sh('ip', 'addr', 'add', `${net}.1/24`, 'dev', hostIf);
    sh('ip', 'link', 'set', hostIf, 'up');
  } catch (e) {
    remove();
    throw e;
  }
  return { ns, hostIf, nsIf, hostAddr: `${net}.1`, nsAddr: `${net}.2`, remove };
}

const standardPorts = { echo: 7, discard: 9, chargen: 19 };

/** The kernel serving tcp_bench's echo/discard/chargen in `ns`. */
function kernelServer(ns: string, tcpBench: string): Promise<ChildProcess> {
  return spawnReady('ip', ['netns', 'exec', ns, tcpBench, 'server', '0'], (l) => l === 'ready');
}

export async function nativeServer(tcpBench: string): Promise<Server> {
  const v = vethNamespace('k');
  try {
    const srv = await kernelServer(v.ns, tcpBench);
    return { name: 'native', host: v.nsAddr, ports: standardPorts, close: async () => { await stopChild(srv, 'SIGKILL'); v.remove(); } };
  } catch (e) { v.remove(); throw e; }
}

export interface NetstackOptions {
  gso: boolean;
  /** TCP worker threads (--tcp-workers); 0: TCP on the stack's own thread. */
  tcpWorkers?: number;
  cpuProfileDir?: string;
}

/** The benchmark column a netstack configuration is reported under. */
export function netstackColumn(opts: NetstackOptions): string {
  const workers = opts.tcpWorkers ?? 0;
  if (workers > 0) return `netstack (${workers} TCP worker${workers > 1 ? 's' : ''})`;
  return opts.gso ? 'netstack' : 'netstack (no GSO)';
}

/** `bin/netstack serve` taking over the namespace's end of the veth. */
export async function netstackServer(opts: NetstackOptions): Promise<Server> {
  const v = vethNamespace(`${opts.gso ? 'g' : 's'}${opts.tcpWorkers ?? 0}`);
  const tool = path.join(repoRoot, 'packages', 'netstack', 'dist', 'tools', 'netstack.js');
  const nodeArgs = opts.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfileDir] : [];
  try {
    const child = await spawnReady('ip', ['netns', 'exec', v.ns, process.execPath, ...nodeArgs, tool, 'serve', '--device', v.nsIf, `--gso=${opts.gso}`, `--tcp-workers=${opts.tcpWorkers ?? 0}`],
      (l) => l.includes('"ready":true'));
    return {
      name: netstackColumn(opts), host: v.nsAddr, ports: standardPorts, pid: child.pid,
      close: async () => { await stopChild(child); v.remove(); },
    };
  } catch (e) { v.remove(); throw e; }
}

/** Host ports below the ephemeral range, distinct per process and per server. */
function forwardedPorts(): Server['ports'] {
  const base = 20000 + (process.pid % 300) * 40 + (seq++ % 2) * 20;
  return { echo: base + 7, discard: base + 9, chargen: base + 19 };
}

async function waitConnectable(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`127.0.0.1:${port} not forwarded after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function plainNamespace(tag: string): { ns: string; remove(): void } {
  const ns = `tsvn${tag}${process.pid}`;
  sh('ip', 'netns', 'add', ns);
  sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  return { ns, remove: () => { try { sh('ip', 'netns', 'del', ns); } catch { /* gone */ } } };
}

/** slirp4netns(1) (MTU 65520, as rootless Docker and Podman configure it) with add_hostfwd for the three ports. */
export async function slirpServer(tcpBench: string, workDir: string): Promise<Server> {
  const { ns, remove } = plainNamespace('l');
  const apiSocket = path.join(workDir, `slirp-${process.pid}.sock`);
  fs.rmSync(apiSocket, { force: true });
  const children: ChildProcess[] = [];
  const close = async () => { for (const c of children.reverse()) await stopChild(c, 'SIGKILL'); remove(); fs.rmSync(apiSocket, { force: true }); };
  try {
    children.push(await kernelServer(ns, tcpBench));
    const slirp = spawn('slirp4netns', ['--configure', '--mtu=65520', '--disable-host-loopback', '--api-socket', apiSocket,
      '--netns-type=path', `/run/netns/${ns}`, 'tap0'], { stdio: 'ignore' });
    children.push(slirp);
    for (let i = 0; i < 100 && !fs.existsSync(apiSocket); i++) await new Promise((r) => setTimeout(r, 50));
    const ports = forwardedPorts();
    for (const [guest, host] of [[7, ports.echo], [9, ports.discard], [19, ports.chargen]]) {
      // The API takes one JSON request per connection and answers with one JSON object (slirp4netns(1), "API SOCKET").
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect(apiSocket);
        let out = '';
        s.on('data', (d) => { out += d.toString(); });
        s.on('end', () => resolve(out));
        s.on('error', reject);
        s.write(JSON.stringify({ execute: 'add_hostfwd', arguments: { proto: 'tcp', host_addr: '127.0.0.1', host_port: host, guest_port: guest } }));
        s.end();
      });
      if (!reply.includes('return')) throw new Error(`slirp4netns add_hostfwd: ${reply}`);
    }
    await waitConnectable(ports.discard);
    return { name: 'slirp4netns', host: '127.0.0.1', ports, close };
  } catch (e) { await close(); throw e; }
}

/** pasta(1) attached to the namespace with -t forwards (--runas 0: as root it would drop to nobody, which cannot
 * join a namespace under /run/netns). Connections from 127.0.0.1 take pasta's splice(2) bypass. */
export async function pastaServer(tcpBench: string): Promise<Server> {
  const { ns, remove } = plainNamespace('p');
  const children: ChildProcess[] = [];
  const close = async () => { for (const c of children.reverse()) await stopChild(c); remove(); };
  try {
    children.push(await kernelServer(ns, tcpBench));
    const ports = forwardedPorts();
    const spec = `127.0.0.1/${ports.echo}:7,${ports.discard}:9,${ports.chargen}:19`;
    const pasta = spawn('pasta', ['-f', '-q', '--runas', '0', '--config-net', '-t', spec, '-u', 'none', '-T', 'none', '-U', 'none', '--netns', ns], { stdio: 'ignore' });
    children.push(pasta);
    await waitConnectable(ports.discard);
    return { name: 'pasta', host: '127.0.0.1', ports, close };
  } catch (e) { await close(); throw e; }
}
