// `netstack serve --tcp-workers 2 --qdisc=worker` against the host kernel's stack across a veth (netns_fixture.ts):
// TCP on two worker threads sharded by flow hash, egress sendmmsg on its own thread. The same real-peer checks as
// the single-threaded tool, smaller: echo and discard intact and exact, parallel HTTP downloads spread over both
// workers, IPv6, and a transfer under 2% loss added with an nftables table this test creates and deletes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteNftTable, downloadInParallel, run, sha256File, startServe, statValue, statsAfterSigusr1, withHostLoss, type ServeFixture,
} from './netns_fixture.js';

const BULK_MB = 40;
const PARALLEL = 60;
const table = `tsvw${process.pid % 100000}`;

let f: ServeFixture;
let dir = '';
let bulk = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsv-netstack-workers-'));
  const www = join(dir, 'www');
  execFileSync('mkdir', [www]);
  for (let i = 1; i <= PARALLEL; i++) {
    writeFileSync(join(www, `small${i}.bin`), Buffer.from(Array.from({ length: 4096 + i * 613 }, (_, j) => ((j + 3) * (i + 11) * 2654435761) >>> 24)));
  }
  bulk = join(dir, 'bulk.bin');
  run(`head -c ${BULK_MB << 20} /dev/urandom > ${bulk}`, 60_000);
  run(`head -c ${10 << 20} /dev/urandom > ${www}/lossy.bin`, 30_000);
  f = await startServe({
    tag: 'w', octetBase: 50, v6Word: '7477',
    serveArgs: ['--tcp-workers', '2', '--qdisc=worker', '--http-root', www, '--http-port', '8083'],
  });
}, 60_000);

afterAll(async () => {
  deleteNftTable(table);
  await f?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('netstack serve with TCP worker threads and the worker qdisc', () => {
  it('echoes over TCP on both families and answers ping', () => {
    expect(run(`printf 'through a worker\\n' | timeout 10 nc -N ${f.peer4} 7`, 15_000)).toBe('through a worker\n');
    expect(run(`printf 'six\\n' | timeout 10 nc -N ${f.peer6} 7`, 15_000)).toBe('six\n');
    expect(run(`busybox ping -c 1 -W 3 ${f.peer4}`, 10_000)).toMatch(/1 packets received/);
  });

  it(`echoes ${BULK_MB} MB intact and counts ${BULK_MB} MB sent to discard exactly`, async () => {
    const echoed = run(`timeout 60 nc -N ${f.peer4} 7 < ${bulk} | sha256sum`, 70_000);
    expect(echoed.split(' ')[0]).toBe(sha256File(bulk));
    const before = statValue(await statsAfterSigusr1(f, 'discard.tcpBytesReceived'), 'discard.tcpBytesReceived');
    run(`timeout 60 nc -N ${f.peer6} 9 < ${bulk}`, 70_000);
    const after = statValue(await statsAfterSigusr1(f, 'discard.tcpBytesReceived'), 'discard.tcpBytesReceived');
    expect(after - before).toBe(BULK_MB << 20);
  }, 150_000);

  it(`completes ${PARALLEL} parallel curl downloads intact, spread over both workers`, async () => {
    const dump0 = await statsAfterSigusr1(f, 'tcpWorker1.passiveOpens');
    const opens0 = [statValue(dump0, 'tcpWorker0.passiveOpens'), statValue(dump0, 'tcpWorker1.passiveOpens')];
    const { served, received } = downloadInParallel(f, 8083, join(dir, 'www'), join(dir, 'got'), PARALLEL);
    expect(received).toBe(served);
    const dump1 = await statsAfterSigusr1(f, 'tcpWorker1.passiveOpens');
    const opens = [statValue(dump1, 'tcpWorker0.passiveOpens') - opens0[0]!, statValue(dump1, 'tcpWorker1.passiveOpens') - opens0[1]!];
    console.log(`passive opens per worker: ${opens.join(' / ')}`);
    expect(opens[0]! + opens[1]!).toBeGreaterThanOrEqual(PARALLEL);
    // 60 flows hashed over 2 workers: each gets some (all on one would take a 2^-59 chance).
    expect(Math.min(...opens)).toBeGreaterThan(0);
  }, 120_000);

  it('downloads intact while the host drops 2% of what it sends', () => {
    const dropped = withHostLoss(f, table, 2, () => {
      // The download's ACKs cross the lossy direction; an upload through echo puts its data segments there too.
      const down = run(`curl -sS --fail --max-time 60 http://${f.peer4}:8083/lossy.bin | sha256sum`, 70_000);
      expect(down.split(' ')[0]).toBe(sha256File(join(dir, 'www', 'lossy.bin')));
      const up = join(dir, 'up.bin');
      run(`head -c ${8 << 20} ${bulk} > ${up}`, 10_000);
      const echoed = run(`timeout 60 nc -N ${f.peer4} 7 < ${up} | sha256sum`, 70_000);
      expect(echoed.split(' ')[0]).toBe(sha256File(up));
    });
    expect(dropped).toBeGreaterThan(20);
  }, 150_000);
});
