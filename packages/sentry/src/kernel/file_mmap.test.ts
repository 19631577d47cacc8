// File-backed mmap (a ptrace-class call the sentry drives by ptrace). A large sparse file: the sentry fills the
// mapping chunk by chunk (MMAP_FILL_CHUNK), so its own memory stays bounded whatever the mapping's size, and the task
// still sees the file's bytes. Threads killed in the middle of such a call: none may be left stopped for ever.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostFile } from '../fsimpl/host_file.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { makeTestTask } from '../syscalls/fs_test_task.js';
import { AT_FDCWD, O_CREAT, O_RDONLY, O_WRONLY } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import { MountNamespace } from '../vfs/mount.js';
import { openAt } from '../vfs/operations.js';
import { Kernel } from './kernel.js';

const MIB = 1 << 20;
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-file-mmap-'));
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** Peak resident memory of this process since the last reset (proc(5) VmHWM), in bytes. */
function peakRss(): number {
  const m = /^VmHWM:\s*(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

describe('file-backed mmap of a large sparse file', () => {
  it('maps 1 GiB of a 2 GiB sparse file with the right bytes while the sentry peak RSS grows by far less', async () => {
    const exe = path.join(work, 'mmap_sparse');
    const src = path.join(path.dirname(new URL(import.meta.url).pathname), 'testdata', 'mmap_sparse.c');
    execFileSync('gcc', ['-static', '-O1', '-o', exe, src]);
    // The file lives in the sentry's tmpfs, which holds only written 64 KiB chunks: 2 GiB with a few markers.
    const mounts = new MountNamespace(new Tmpfs());
    const setup = makeTestTask(mounts);
    const f = await openAt(setup, AT_FDCWD, '/mmap_sparse', O_CREAT | O_WRONLY, 0o755);
    await f.write(fs.readFileSync(exe));
    const sparse = await openAt(setup, AT_FDCWD, '/sparse', O_CREAT | O_WRONLY, 0o644);
    const base = 512 * MIB;
    await sparse.pwrite(Buffer.from('first-chunk'), BigInt(base + 5));
    await sparse.pwrite(Buffer.from('later-chunk'), BigInt(base + 300 * MIB + 7));
    await sparse.pwrite(Buffer.from('last-page'), BigInt(base + 1024 * MIB - 16));
    await sparse.pwrite(Buffer.from('end'), BigInt(2048 * MIB - 3));
    const outPath = path.join(work, 'out');
    const outFd = fs.openSync(outPath, 'w+');
    const inFd = fs.openSync('/dev/null', 'r');
    const kernel = new Kernel({ hostname: 'sandbox', rootFs: mounts, logger: pino({ level: 'silent' }) });
    // Reset the peak (proc(5) /proc/PID/clear_refs: 5 resets VmHWM to the current RSS).
    fs.writeFileSync('/proc/self/clear_refs', '5');
    const before = peakRss();
    const result = await kernel.runInit({
      argv: ['/mmap_sparse'],
      env: [],
      cwd: '/',
      uid: 0,
      gid: 0,
      stdio: [
        new FileDescription(new HostFile(inFd), O_RDONLY, null),
        new FileDescription(new HostFile(outFd), O_WRONLY, null),
        new FileDescription(new HostFile(outFd), O_WRONLY, null),
      ],
    });
    const grown = peakRss() - before;
    await new Promise((r) => setTimeout(r, 20));
    expect(fs.readFileSync(outPath, 'utf8')).toBe('ok\n');
    expect(result).toEqual({ exitCode: 0 });
    // Reading the range whole would take 1 GiB; chunks take one MiB at a time (plus the GC's slack).
    expect(grown).toBeLessThan(200 * MIB);
    fs.closeSync(outFd);
    fs.closeSync(inFd);
  }, 60_000);
});

describe('threads killed while the sentry drives their file mmap', () => {
  it('every child whose mapping thread was killed by exit_group is reaped (none left in its exit stop)', async () => {
    const exe = path.join(work, 'exit_during_mmap');
    const src = path.join(path.dirname(new URL(import.meta.url).pathname), 'testdata', 'exit_during_mmap.c');
    execFileSync('gcc', ['-static', '-O1', '-pthread', '-o', exe, src]);
    const mounts = new MountNamespace(new Tmpfs());
    const f = await openAt(makeTestTask(mounts), AT_FDCWD, '/exit_during_mmap', O_CREAT | O_WRONLY, 0o755);
    await f.write(fs.readFileSync(exe));
    const outPath = path.join(work, 'out-exit');
    const outFd = fs.openSync(outPath, 'w+');
    const inFd = fs.openSync('/dev/null', 'r');
    const kernel = new Kernel({ hostname: 'sandbox', rootFs: mounts, logger: pino({ level: 'silent' }) });
    const running = kernel.runInit({
      argv: ['/exit_during_mmap'],
      env: [],
      cwd: '/',
      uid: 0,
      gid: 0,
      stdio: [
        new FileDescription(new HostFile(inFd), O_RDONLY, null),
        new FileDescription(new HostFile(outFd), O_WRONLY, null),
        new FileDescription(new HostFile(outFd), O_WRONLY, null),
      ],
    });
    // Before the fix a thread killed between the sentry's PTRACE_SYSCALL and its syscall-exit stop stayed in its
    // exit stop for ever and its process was never reported to the parent: the run hung.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 20_000)));
    const result = await Promise.race([running, hung]);
    clearTimeout(timer);
    if (result === 'hung') kernel.kill(9);
    await new Promise((r) => setTimeout(r, 20));
    expect(fs.readFileSync(outPath, 'utf8')).toBe('reaped 60\n');
    expect(result).toEqual({ exitCode: 0 });
    fs.closeSync(outFd);
    fs.closeSync(inFd);
  }, 40_000);
});
