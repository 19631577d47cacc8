// An exclusive lock per container, so concurrent runsc calls (containerd issues state/kill/delete in parallel)
// never interleave read-modify-write of state.json.
//
// Why a lock file created exclusively (link(2) of a written temp file, failing with EEXIST like O_EXCL) rather
// than flock(2): Node has no flock, and the native addon belongs to another area; exclusive creation is atomic on
// local file systems and needs nothing else. The price is that a holder killed with SIGKILL leaves the file
// behind, so the file records the holder's pid and start time (/proc/<pid>/stat) and a waiter that finds the
// holder gone breaks the lock. Breaking is itself guarded by a second exclusive file (<lock>.break): without it,
// two waiters could both judge the lock stale and the slower one would delete the fresh lock the faster one just
// took. A .break file left by a waiter that died mid-break is considered stale after BREAK_STALE_MS.
import fs from 'node:fs';
import { isSameProcessAlive, processStartTime } from './process_identity.js';
import { RuntimeError } from './runtime_error.js';

const BREAK_STALE_MS = 5_000;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function ownerToken(): string {
  return `${process.pid} ${processStartTime(process.pid) ?? '0'}\n`;
}

/**
 * Creates `file` holding `content`, atomically: the content is written to a private temporary file first and
 * then link(2)ed into place, which fails with EEXIST if the lock exists. A reader therefore never sees a
 * half-written lock, and a holder killed mid-way leaves no empty lock that nobody could judge stale.
 */
function tryCreate(file: string, content: string): boolean {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode: 0o600 });
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function readHolder(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** True if the lock content names a process that is no longer alive (or is unreadable garbage). */
function isStale(content: string): boolean {
  const [pidText, startTime] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  return !isSameProcessAlive(pid, startTime === '0' ? undefined : startTime);
}

function tryBreakStale(file: string, staleContent: string): void {
  const breaker = `${file}.break`;
  if (!tryCreate(breaker, ownerToken())) {
    try {
      if (Date.now() - fs.statSync(breaker).mtimeMs > BREAK_STALE_MS) fs.unlinkSync(breaker);
    } catch {
      // Gone already: another waiter finished breaking.
    }
    return;
  }
  try {
    // Re-read under the breaker lock: only delete the exact stale content we judged, never a fresh lock.
    if (readHolder(file) === staleContent) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(breaker, { force: true });
  }
}

export interface HeldLock {
  release(): void;
}

/**
 * Takes the lock file `file`, waiting up to `timeoutMs`. Throws ELOCKED on timeout, or the fs error if the
 * directory is missing (ENOENT: the container was deleted meanwhile; callers map that to "no such container").
 */
export function acquireLock(file: string, timeoutMs = 10_000): HeldLock {
  const token = ownerToken();
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  for (;;) {
    if (tryCreate(file, token)) {
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          if (readHolder(file) === token) fs.rmSync(file, { force: true });
        },
      };
    }
    const holder = readHolder(file);
    if (holder !== undefined && isStale(holder)) {
      tryBreakStale(file, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RuntimeError('ELOCKED', `timed out waiting for lock ${file} held by pid ${holder?.split(' ')[0] ?? '?'}`);
    }
    sleepSync(pause);
    pause = Math.min(pause * 2, 50);
  }
}
