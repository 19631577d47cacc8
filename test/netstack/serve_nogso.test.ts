// `netstack serve --gso=false` against the host stack: without virtio_net_hdr offload every segment is MTU-sized
// and checksummed in user space, and received TSO/GRO frames are not expected. Ping, UDP echo and an HTTP download
// (sha256) across a veth into a namespace the test creates and removes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeFixture } from './netns_fixture.js';

const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync(cmd, args, { input, timeout: 20_000, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

let f: ServeFixture;
let ns = '';
let nsIf = '';
let peer4 = '';
let peer6 = '';
let root = '';
const payload = Buffer.from(Array.from({ length: 2 << 20 }, (_, i) => (i * 40503) >>> 9));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tsv-netstack-nogso-'));
  writeFileSync(join(root, 'data.bin'), payload);
  // Names tsvgns<id>/tsvgh<id>/tsvgn<id> and 10.(150+id%50).x.0/24 as before the set-up moved to netns_fixture.ts.
  f = await startServe({ tag: 'g', octetBase: 150, v6Word: '7474', serveArgs: ['--gso=false', '--http-root', root, '--http-port', '8081'] });
  ({ ns, nsIf, peer4, peer6 } = f);
}, 30_000);

afterAll(async () => {
  await f?.stop();
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
    const exited = new Promise((r) => f.child.once('exit', r));
    f.child.kill('SIGTERM');
    await exited;
    expect(f.child.exitCode).toBe(0);
    expect(f.stderr()).toMatch(/netstack statistics/);
    const addrs = sh('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', nsIf]);
    expect(addrs).toContain(peer4);
    expect(addrs).toContain(peer6);
    // And the kernel answers again.
    expect(sh('busybox', ['ping', '-c', '1', '-W', '3', peer4])).toMatch(/1 packets received/);
  });
});
