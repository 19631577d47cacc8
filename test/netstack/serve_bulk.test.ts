// Issue 4's bulk checks of `netstack serve` against the host kernel's stack across a veth into a namespace the test
// creates (netns_fixture.ts): 100 MB through TCP echo (sha256), 100 MB into discard counted exactly (the tool's
// discard.tcpBytesReceived statistic), 200 parallel curl downloads, and HTTP download / echo upload with 2% of the
// host's outgoing packets dropped by an nftables table this test creates and deletes. Needs root and a build.
// TSVISOR_LONG=1 makes the echo and discard transfers 1 GB.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteNftTable, downloadInParallel, run, sha256File, startServe, statValue, statsAfterSigusr1, withHostLoss, type ServeFixture,
} from './netns_fixture.js';

const long = process.env.TSVISOR_LONG === '1';
const bulkBytes = (long ? 1024 : 100) << 20;
const table = `tsvb${process.pid % 100000}`;
const PARALLEL = 200;

let f: ServeFixture;
let dir = '';
let bulk = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsv-netstack-bulk-'));
  const www = join(dir, 'www');
  execFileSync('mkdir', [www]);
  for (let i = 1; i <= PARALLEL; i++) {
    writeFileSync(join(www, `small${i}.bin`), Buffer.from(Array.from({ length: 8192 + i * 37 }, (_, j) => ((j + 1) * (i + 7) * 2654435761) >>> 24)));
  }
  bulk = join(dir, 'bulk.bin');
  run(`head -c ${bulkBytes} /dev/urandom > ${bulk}`, 60_000);
  run(`head -c ${30 << 20} /dev/urandom > ${www}/lossy.bin`, 30_000);
  f = await startServe({ tag: 'b', octetBase: 100, v6Word: '7475', serveArgs: ['--http-root', www, '--http-port', '8082'] });
}, 60_000);

afterAll(async () => {
  deleteNftTable(table);
  await f?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('netstack serve bulk transfers against the host stack', () => {
  it(`echoes ${bulkBytes >> 20} MB over TCP intact (nc -N waits for the echo after its half-close)`, () => {
    const t0 = Date.now();
    // -N: shutdown(SHUT_WR) at end of input, then keep reading until the server closes after echoing everything.
    const out = run(`timeout ${long ? 600 : 90} nc -N ${f.peer4} 7 < ${bulk} | sha256sum`, (long ? 610 : 100) * 1000);
    console.log(`echo ${bulkBytes >> 20} MB: ${Date.now() - t0} ms`);
    expect(out.split(' ')[0]).toBe(sha256File(bulk));
  }, 120_000 + (long ? 600_000 : 0));

  it(`counts ${bulkBytes >> 20} MB sent to discard exactly`, async () => {
    const before = statValue(await statsAfterSigusr1(f, 'discard.tcpBytesReceived'), 'discard.tcpBytesReceived');
    const t0 = Date.now();
    run(`timeout ${long ? 600 : 90} nc -N ${f.peer4} 9 < ${bulk}`, (long ? 610 : 100) * 1000);
    console.log(`discard ${bulkBytes >> 20} MB: ${Date.now() - t0} ms`);
    // nc -N returns once the server closed, which discard does only after reading end of stream: all counted.
    const after = statValue(await statsAfterSigusr1(f, 'discard.tcpBytesReceived'), 'discard.tcpBytesReceived');
    expect(after - before).toBe(bulkBytes);
  }, 120_000 + (long ? 600_000 : 0));

  it(`completes ${PARALLEL} parallel curl downloads, each body intact`, async () => {
    const opensBefore = statValue(await statsAfterSigusr1(f, 'tcp.passiveOpens'), 'tcp.passiveOpens');
    const t0 = Date.now();
    const { served, received } = downloadInParallel(f, 8082, join(dir, 'www'), join(dir, 'got'), PARALLEL);
    console.log(`${PARALLEL} parallel downloads: ${Date.now() - t0} ms`);
    expect(received).toBe(served);
    expect(served.trim().split('\n')).toHaveLength(PARALLEL);
    const opensAfter = statValue(await statsAfterSigusr1(f, 'tcp.passiveOpens'), 'tcp.passiveOpens');
    expect(opensAfter - opensBefore).toBeGreaterThanOrEqual(PARALLEL);
  }, 120_000);

  it('downloads over HTTP and uploads through echo intact while the host drops 2% of what it sends', () => {
    let t0 = 0;
    let t1 = 0;
    const dropped = withHostLoss(f, table, 2, () => {
      t0 = Date.now();
      const down = run(`curl -sS --fail --max-time 60 http://${f.peer4}:8082/lossy.bin | sha256sum`, 70_000);
      expect(down.split(' ')[0]).toBe(sha256File(join(dir, 'www', 'lossy.bin')));
      t1 = Date.now();
      const up = join(dir, 'up.bin');
      run(`head -c ${20 << 20} ${bulk} > ${up}`, 10_000);
      const echoed = run(`timeout 60 nc -N ${f.peer4} 7 < ${up} | sha256sum`, 70_000);
      expect(echoed.split(' ')[0]).toBe(sha256File(up));
    });
    console.log(`lossy: 30 MB download ${t1 - t0} ms, 20 MB echo ${Date.now() - t1} ms; packets ${dropped} dropped`);
    // The rule really dropped packets, so recovery was exercised.
    // About 2% of the ~15000 data segments of the upload and the ~10000 ACKs of the download: well over 100.
    expect(dropped).toBeGreaterThan(100);
  }, 150_000);
});
