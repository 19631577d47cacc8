// `netstack serve --gso=false` against the host stack: without virtio_net_hdr offload every segment is MTU-sized
// and checksummed in user space, and received TSO/GRO frames are not expected. Ping, UDP echo and an HTTP download
// (sha256) across a veth into a namespace the test creates and removes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const tool = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages/netstack/dist/tools/netstack.js');
const id = process.pid % 100000;
const ns = `tsvgns${id}`;
const hostIf = `tsvgh${id}`;
const nsIf = `tsvgn${id}`;
const net4 = `10.${150 + (id % 50)}.${Math.floor(id / 50) % 250}`;
const peer4 = `${net4}.2`;
const peer6 = `fd00:7474:${id.toString(16)}::2`;

const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync(cmd, args, { input, timeout: 20_000, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

let child: ChildProcess | undefined;
let root = '';
let stderr = '';
const payload = Buffer.from(Array.from({ length: 2 << 20 }, (_, i) => (i * 40503) >>> 9));

beforeAll(async () => {
  if (!existsSync(tool)) throw new Error(`${tool} is missing: build first (npx tsc -b)`);
  root = mkdtempSync(join(tmpdir(), 'tsv-netstack-nogso-'));
  writeFileSync(join(root, 'data.bin'), payload);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  sh('ip', ['link', 'set', nsIf, 'netns', ns]);
  sh('ip', ['addr', 'add', `${net4}.1/24`, 'dev', hostIf]);
  sh('ip', ['addr', 'add', `fd00:7474:${id.toString(16)}::1/64`, 'dev', hostIf, 'nodad']);
  sh('ip', ['link', 'set', hostIf, 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${peer4}/24`, 'dev', nsIf]);
  sh('ip', ['-n', ns, 'addr', 'add', `${peer6}/64`, 'dev', nsIf, 'nodad']);
  sh('ip', ['-n', ns, 'link', 'set', nsIf, 'up']);
  child = spawn('ip', ['netns', 'exec', ns, process.execPath, tool, 'serve', '--device', nsIf, '--gso=false', '--http-root', root, '--http-port', '8081'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tool not ready: ${stderr}`)), 15_000);
    child!.stdout!.once('data', () => {
      clearTimeout(t);
      resolve();
    });
    child!.on('exit', (code) => reject(new Error(`tool exited with ${code}: ${stderr}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {}
  try {
    execFileSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
  } catch {}
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('netstack serve --gso=false', () => {
  it('answers ping and UDP echo on both families', () => {
    expect(sh('busybox', ['ping', '-c', '1', '-W', '3', peer4])).toMatch(/1 packets received/);
    expect(sh('busybox', ['ping6', '-c', '1', '-W', '3', peer6])).toMatch(/1 packets received/);
    expect(sh('nc', ['-u', '-w', '1', peer6, '7'], 'no offload\n')).toBe('no offload\n');
  });

  it('serves a 2 MB file intact over HTTP', () => {
    const out = execFileSync('curl', ['-sS', '--fail', `http://${peer4}:8081/data.bin`], { timeout: 30_000, maxBuffer: 64 << 20 });
    expect(createHash('sha256').update(out).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
  });

  it('gives the addresses back to the namespace kernel on SIGTERM', async () => {
    const exited = new Promise((r) => child!.once('exit', r));
    child!.kill('SIGTERM');
    await exited;
    expect(child!.exitCode).toBe(0);
    expect(stderr).toMatch(/netstack statistics/);
    const addrs = sh('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', nsIf]);
    expect(addrs).toContain(peer4);
    expect(addrs).toContain(peer6);
    // And the kernel answers again.
    expect(sh('busybox', ['ping', '-c', '1', '-W', '3', peer4])).toMatch(/1 packets received/);
  });
});
