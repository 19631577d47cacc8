// The standalone tool against real peers: the host kernel's stack pings it and talks UDP, TCP and HTTP to it
// across a veth into a network namespace the test creates (and removes). Needs root and a build
// (`npx tsc -b`; make test does it).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, statsAfterSigusr1, type ServeFixture } from './netns_fixture.js';

const long = process.env.TSVISOR_LONG === '1';

const sh = (cmd: string, args: string[], input?: string | Buffer, timeout = 15_000): string =>
  execFileSync(cmd, args, { input, timeout, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const shBuf = (cmd: string, args: string[], input?: Buffer, timeout = 30_000): Buffer =>
  execFileSync(cmd, args, { input, timeout, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let f: ServeFixture;
let ns = '';
let nsIf = '';
let peer4 = '';
let peer6 = '';
let root = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tsv-netstack-http-'));
  writeFileSync(join(root, 'index.html'), '<h1>netstack</h1>\n');
  writeFileSync(join(root, 'blob.bin'), Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 2654435761) >>> 24)));
  // Names tsvns<id>/tsvh<id>/tsvn<id> and 10.(200+id%50).x.0/24 as before the set-up moved to netns_fixture.ts.
  f = await startServe({ tag: '', octetBase: 200, v6Word: '7473', serveArgs: ['--http-root', root, '--http-port', '8080'] });
  ({ ns, nsIf, peer4, peer6 } = f);
}, 30_000);

afterAll(async () => {
  await f?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('netstack serve behind a veth', () => {
  it('took over the device addresses from the namespace kernel', () => {
    expect(f.ready.addresses).toEqual(expect.arrayContaining([`${peer4}/24`, `${peer6}/64`]));
    // The kernel side no longer holds them, so only netstack can be answering below.
    const left = sh('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', nsIf]);
    expect(left).not.toContain(peer4);
    expect(left).not.toContain(peer6);
  });

  it('answers ping over IPv4 and IPv6', () => {
    expect(sh('busybox', ['ping', '-c', '2', '-W', '3', peer4])).toMatch(/2 packets received/);
    expect(sh('busybox', ['ping6', '-c', '2', '-W', '3', peer6])).toMatch(/2 packets received/);
    // A datagram larger than the MTU: the host fragments the request, netstack reassembles and fragments the reply.
    expect(sh('busybox', ['ping', '-c', '1', '-W', '3', '-s', '4000', peer4])).toMatch(/1 packets received/);
  });

  it('echoes UDP (nc -u) on both families and answers a closed port with ICMP port unreachable', () => {
    expect(sh('nc', ['-u', '-w', '1', peer4, '7'], 'hello over udp\n')).toBe('hello over udp\n');
    expect(sh('nc', ['-u', '-w', '1', peer6, '7'], 'hello over udp6\n')).toBe('hello over udp6\n');
    // A connected UDP socket learns of ICMP port unreachable as ECONNREFUSED on its next receive (udp(7)).
    const probe = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      's.settimeout(3)',
      `s.connect(("${peer4}", 5999))`,
      's.send(b"x")',
      'try:',
      '    s.recv(10)',
      '    print("answered")',
      'except ConnectionRefusedError:',
      '    print("refused")',
      'except socket.timeout:',
      '    print("timeout")',
    ].join('\n');
    expect(sh('python3', ['-c', probe]).trim()).toBe('refused');
  });

  it('echoes and discards over TCP (nc) on both families', () => {
    expect(sh('nc', ['-N', '-w', '5', peer4, '7'], 'tcp echo line\n')).toBe('tcp echo line\n');
    expect(sh('nc', ['-N', '-w', '5', peer6, '7'], 'tcp6 echo\n')).toBe('tcp6 echo\n');
    const big = Buffer.alloc(1 << 20, 0x5a);
    expect(sha256(shBuf('nc', ['-N', '-w', '10', peer4, '7'], big))).toBe(sha256(big));
    expect(sh('nc', ['-N', '-w', '5', peer4, '9'], 'into the void\n')).toBe('');
    const chargen = sh('timeout', ['5', 'sh', '-c', `nc -d ${peer4} 19 | head -c 740`]).split('\r\n');
    expect(chargen[0]).toHaveLength(72);
    expect(chargen[1]).toBe(chargen[0]!.slice(1) + String.fromCharCode(32 + 72));
  });

  it('serves files over HTTP/1.1 (curl): body sha256, HEAD, 404, keep-alive, IPv6', () => {
    const body = shBuf('curl', ['-sS', '--fail', `http://${peer4}:8080/blob.bin`]);
    expect(sha256(body)).toBe(sha256(readFileSync(join(root, 'blob.bin'))));
    const head = sh('curl', ['-sS', '-I', `http://${peer4}:8080/blob.bin`]);
    expect(head).toMatch(/^HTTP\/1.1 200 OK/);
    expect(head).toMatch(new RegExp(`Content-Length: ${3 << 20}`, 'i'));
    expect(sh('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${peer4}:8080/missing`])).toBe('404');
    // Dot segments never climb out of the root: /../../etc/passwd is looked up as <root>/etc/passwd.
    expect(sh('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${peer4}:8080/../../etc/passwd`, '--path-as-is'])).toBe('404');
    // Two URLs in one curl run share one connection when the server keeps it alive.
    const verbose = execFileSync('curl', ['-sv', `http://${peer4}:8080/`, `http://${peer4}:8080/index.html`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(verbose).toBe('<h1>netstack</h1>\n<h1>netstack</h1>\n');
    const v = execFileSync('sh', ['-c', `curl -sv http://${peer4}:8080/ http://${peer4}:8080/index.html 2>&1 >/dev/null`], { encoding: 'utf8' });
    expect(v).toMatch(/Re-using existing connection|Reusing existing connection/);
    expect(sh('curl', ['-sS', '-g', `http://[${peer6}]:8080/`])).toBe('<h1>netstack</h1>\n');
  });

  // About a second on the development VM, so it always runs; TSVISOR_LONG=1 makes it 1 GB.
  it('moves 100 MB over HTTP and survives parallel clients', () => {
    const big = join(root, 'big.bin');
    const mb = long ? 1024 : 100;
    execFileSync('sh', ['-c', `head -c ${mb << 20} /dev/urandom > ${big}`]);
    const out = execFileSync('sh', ['-c', `curl -sS http://${peer4}:8080/big.bin | sha256sum`], { encoding: 'utf8', timeout: 300_000 });
    expect(out.split(' ')[0]).toBe(sh('sha256sum', [big]).split(' ')[0]);
    const par = execFileSync('sh', ['-c', `for i in 1 2 3 4 5 6 7 8; do curl -sS http://${peer4}:8080/blob.bin | sha256sum & done; wait`], { encoding: 'utf8', timeout: 120_000 });
    const want = sha256(readFileSync(join(root, 'blob.bin')));
    expect(par.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(Array(8).fill(want));
  });

  it('prints statistics on SIGUSR1', async () => {
    const stderr = await statsAfterSigusr1(f, 'http.requests');
    expect(stderr).toMatch(/netstack statistics/);
    expect(stderr).toMatch(/icmp\.echoRepliesSent [1-9]/);
    expect(stderr).toMatch(/tcp\.passiveOpens [1-9]/);
    expect(stderr).toMatch(/udp\.packetsReceived [1-9]/);
  });
});
