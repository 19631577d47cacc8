// Test support: compiles seccomp_probe.c once per test file (gcc, into a temp dir) and runs it with a BPF program,
// returning how each requested syscall came out. See seccomp_probe.c for what each outcome means.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Return value of a syscall the supervisor answered (SECCOMP_RET_USER_NOTIF); the host did not run it. */
export const NOTIFIED = 1516n;
/** Return value base of a syscall the tracer skipped (SECCOMP_RET_TRACE): TRACED + the filter's data. */
export const TRACED = 0x7000n;

export interface ProbeResult {
  /** Raw return value per label (negative errno on failure). */
  results: Map<string, bigint>;
  /** How the probed child ended: { exit: n } or { signal: n }. */
  end: { exit?: number; signal?: number };
  stdout: string;
}

export class SeccompProbe {
  readonly dir: string;
  readonly binary: string;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-seccomp-probe-'));
    this.binary = path.join(this.dir, 'seccomp_probe');
    execFileSync('gcc', ['-O1', '-Wall', '-Werror', '-o', this.binary, path.join(here, 'seccomp_probe.c')]);
  }

  /** Runs `specs` ("label=nr,arg,...") in a child under `bpf`; FD in a spec is a read-only fd of `file`. */
  run(bpf: Buffer, specs: string[], file = '/bin/sh'): ProbeResult {
    const bpfPath = path.join(this.dir, `filter-${process.pid}-${Math.random().toString(36).slice(2)}.bpf`);
    fs.writeFileSync(bpfPath, bpf);
    try {
      const r = spawnSync(this.binary, [bpfPath, file, ...specs], { encoding: 'utf8', timeout: 20_000 });
      if (r.error) throw r.error;
      const results = new Map<string, bigint>();
      const end: ProbeResult['end'] = {};
      for (const line of r.stdout.split('\n')) {
        const m = /^(\S+) (-?\d+)$/.exec(line);
        if (!m) continue;
        if (m[1] === 'EXIT') end.exit = Number(m[2]);
        else if (m[1] === 'SIGNAL') end.signal = Number(m[2]);
        else results.set(m[1], BigInt(m[2]));
      }
      if (end.exit === undefined && end.signal === undefined) {
        throw new Error(`seccomp_probe ended without a verdict (status ${r.status}): ${r.stdout} ${r.stderr}`);
      }
      return { results, end, stdout: r.stdout };
    } finally {
      fs.rmSync(bpfPath, { force: true });
    }
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
