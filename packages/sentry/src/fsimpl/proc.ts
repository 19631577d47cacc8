// procfs (proc(5)) generated from the kernel's process table: /proc/self and /proc/thread-self, per-process
// directories (cmdline, comm, status, stat, exe, cwd, root, fd/, maps, mounts), and the system files cpuinfo,
// meminfo, uptime, loadavg, filesystems, version, mounts. File contents are produced when the file is opened, so
// a reader sees one consistent snapshot however it splits its reads.
// Partial: /proc/PID/maps shows what the kernel reports (ProcessInfo.maps, possibly empty); /proc/PID/fd/N of a
// pipe reads as "pipe:[ino]" and reopens the same pipe (vfs/anon.ts); no /proc/PID/task, environ, or /proc/sys.
import * as os from 'node:os';
import type { ProcessInfo, ProcessTable } from '../kernel/context.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import { DT_DIR, DT_LNK, DT_REG, S_IFDIR, S_IFLNK, S_IFREG } from '../vfs/constants.js';
import { anonLocation } from '../vfs/anon.js';
import { currentCaller } from '../vfs/caller.js';
import type { FdTable } from '../vfs/fd_table.js';
import type { DirEntry, FileDescriptionImpl, FilesystemImpl, FsNode, Stat, StatFs } from '../vfs/filesystem.js';
import type { FsContext } from '../vfs/fs_context.js';
import type { MountNamespace, VirtualDentry } from '../vfs/mount.js';
import { pathFrom } from '../vfs/path_resolution.js';
import { nowNs } from './tmpfs.js';

const PROC_SUPER_MAGIC = 0x9fa0n;
const KERNEL_VERSION = '6.1.0-tsvisor';

/** What procfs needs from the kernel beyond the process list: each process's open files and fs context. */
export interface ProcFsSource extends ProcessTable {
  fsState(pid: number): { fdTable: FdTable; fsContext: FsContext } | undefined;
}

/** A process source with no processes (until the kernel plugs in its own). */
export const NO_PROCESSES: ProcFsSource = {
  pids: () => [],
  process: () => undefined,
  uptimeMs: () => process.uptime() * 1000,
  fsState: () => undefined,
};

export class ProcFs implements FilesystemImpl {
  readonly type = 'proc';
  dev = 0;
  readonly readonly = true;
  readonly dynamic = true;
  private readonly inos = new Map<string, bigint>();
  private readonly rootNode: ProcDir;
  readonly bootNs = nowNs();

  constructor(
    /** The kernel's processes; replaceable so boot can mount /proc before the kernel exists. */
    public source: ProcFsSource = NO_PROCESSES,
    /** The mount namespace, for /proc/mounts. */
    readonly mounts: () => MountNamespace | undefined = () => undefined,
  ) {
    this.rootNode = new ProcDir(this, '/', () => this.rootEntries(), 0o555);
  }

  ino(path: string): bigint {
    let i = this.inos.get(path);
    if (i === undefined) {
      i = BigInt(this.inos.size + 1);
      this.inos.set(path, i);
    }
    return i;
  }

  root(): FsNode {
    return this.rootNode;
  }

  async statfs(): Promise<StatFs> {
    return { type: PROC_SUPER_MAGIC, bsize: 4096n, blocks: 0n, bfree: 0n, bavail: 0n, files: 0n, ffree: 0n, namelen: 255n, frsize: 4096n, flags: 1n };
  }

  private caller(): { pid: number; tid: number } {
    const c = currentCaller();
    if (!c) fail(Errno.ENOENT, '/proc/self outside a task');
    return c;
  }

  private rootEntries(): Map<string, FsNode> {
    const m = new Map<string, FsNode>();
    for (const pid of this.source.pids()) m.set(String(pid), this.processDir(pid));
    m.set('self', new ProcLink(this, '/self', () => String(this.caller().pid)));
    m.set('thread-self', new ProcLink(this, '/thread-self', () => {
      const c = this.caller();
      return `${c.pid}/task/${c.tid}`;
    }));
    m.set('mounts', new ProcLink(this, '/mounts', () => 'self/mounts'));
    m.set('sys', this.sysDir());
    const files: Record<string, () => string> = {
      cpuinfo: cpuinfo,
      meminfo: meminfo,
      uptime: () => {
        const up = this.source.uptimeMs() / 1000;
        return `${up.toFixed(2)} ${(up * os.cpus().length * 0.9).toFixed(2)}\n`;
      },
      loadavg: () => {
        const [a, b, c] = os.loadavg();
        const n = this.source.pids();
        return `${a!.toFixed(2)} ${b!.toFixed(2)} ${c!.toFixed(2)} 1/${n.length} ${n[n.length - 1] ?? 0}\n`;
      },
      filesystems: () => ['nodev\ttmpfs', 'nodev\tproc', 'nodev\toverlay', 'nodev\t9p', 'nodev\tdevtmpfs', 'nodev\tpipefs', ''].join('\n'),
      version: () => `Linux version ${KERNEL_VERSION} (tsvisor) #1 SMP\n`,
      stat: () => statFile(this.source),
    };
    for (const [name, gen] of Object.entries(files)) m.set(name, new ProcFile(this, `/${name}`, gen));
    return m;
  }

  private info(pid: number): ProcessInfo {
    const p = this.source.process(pid);
    if (!p) fail(Errno.ESRCH, `process ${pid} is gone`);
    return p;
  }

  private processDir(pid: number): ProcDir {
    const base = `/${pid}`;
    return new ProcDir(this, base, () => {
      const m = new Map<string, FsNode>();
      const file = (name: string, gen: () => string | Buffer) => m.set(name, new ProcFile(this, `${base}/${name}`, gen));
      file('cmdline', () => {
        const argv = this.info(pid).argv;
        return argv.length ? Buffer.from(argv.join('\0') + '\0') : Buffer.alloc(0);
      });
      file('comm', () => this.info(pid).comm.slice(0, 15) + '\n');
      file('status', () => statusText(this.info(pid)));
      file('stat', () => statText(this.info(pid)));
      file('maps', () => (this.info(pid).maps ?? []).map(mapsLine).join(''));
      file('mounts', () => mountsText(this.mounts()));
      file('mountinfo', () => mountinfoText(this.mounts()));
      file('environ', () => {
        const env = this.info(pid).env ?? [];
        return env.length ? Buffer.from(env.join('\0') + '\0') : Buffer.alloc(0);
      });
      m.set('task', this.taskDir(pid));
      m.set('exe', new ProcLink(this, `${base}/exe`, () => {
        const exe = this.info(pid).exe;
        if (exe === null) fail(Errno.ENOENT);
        return exe;
      }));
      const fsLink = (name: 'cwd' | 'root') =>
        m.set(name, new ProcLink(
          this,
          `${base}/${name}`,
          () => this.pathOf(pid, (s) => s.fsContext[name]),
          () => this.fsState(pid).fsContext[name],
        ));
      fsLink('cwd');
      fsLink('root');
      m.set('fd', this.fdDir(pid));
      return m;
    }, 0o555, () => this.info(pid).creds);
  }

  /** /proc/PID/task: one directory per thread with its comm, stat and status (the process's, per thread id). */
  private taskDir(pid: number): ProcDir {
    const base = `/${pid}/task`;
    return new ProcDir(this, base, () => {
      const m = new Map<string, FsNode>();
      for (const tid of this.info(pid).threads) {
        const tbase = `${base}/${tid}`;
        m.set(String(tid), new ProcDir(this, tbase, () => {
          const t = new Map<string, FsNode>();
          const withTid = () => ({ ...this.info(pid), pid: tid });
          t.set('comm', new ProcFile(this, `${tbase}/comm`, () => this.info(pid).comm.slice(0, 15) + '\n'));
          t.set('stat', new ProcFile(this, `${tbase}/stat`, () => statText(withTid())));
          t.set('status', new ProcFile(this, `${tbase}/status`, () => statusText(withTid())));
          return t;
        }, 0o555, () => this.info(pid).creds));
      }
      return m;
    }, 0o555, () => this.info(pid).creds);
  }

  /** /proc/sys: the read-only values programs look up (hostname, kernel release, limits). */
  private sysDir(): ProcDir {
    const dir = (path: string, files: Record<string, () => string>): ProcDir =>
      new ProcDir(this, path, () => {
        const m = new Map<string, FsNode>();
        for (const [name, gen] of Object.entries(files)) m.set(name, new ProcFile(this, `${path}/${name}`, gen));
        return m;
      }, 0o555);
    const kernel = dir('/sys/kernel', {
      hostname: () => `${this.source.hostname?.() ?? os.hostname()}\n`,
      osrelease: () => `${KERNEL_VERSION}\n`,
      ostype: () => 'Linux\n',
      pid_max: () => '4194304\n',
      ngroups_max: () => '65536\n',
      cap_last_cap: () => '40\n',
    });
    const fsDir = dir('/sys/fs', { 'file-max': () => '9223372036854775807\n', nr_open: () => '1048576\n' });
    const vm = dir('/sys/vm', { overcommit_memory: () => '0\n', max_map_count: () => '65530\n' });
    return new ProcDir(this, '/sys', () => new Map<string, FsNode>([['kernel', kernel], ['fs', fsDir], ['vm', vm]]), 0o555);
  }

  private fsState(pid: number) {
    const s = this.source.fsState(pid);
    if (!s) fail(Errno.ENOENT);
    return s;
  }

  private pathOf(pid: number, pick: (s: { fdTable: FdTable; fsContext: FsContext }) => VirtualDentry): string {
    const s = this.fsState(pid);
    const p = pathFrom(s.fsContext.root, pick(s));
    return (p.reachable ? p.path : `(unreachable)${p.path}`) + (p.deleted ? ' (deleted)' : '');
  }

  private fdDir(pid: number): ProcDir {
    const base = `/${pid}/fd`;
    return new ProcDir(this, base, () => {
      const m = new Map<string, FsNode>();
      const { fdTable, fsContext } = this.fsState(pid);
      for (const fd of fdTable.fds()) {
        const file = fdTable.get(fd);
        m.set(String(fd), new ProcLink(
          this,
          `${base}/${fd}`,
          () => {
            if (file.location) {
              const p = pathFrom(fsContext.root, file.location);
              return p.path + (p.deleted || file.location.dentry.dead ? ' (deleted)' : '');
            }
            return file.stat().then((st) => `${(st.mode & 0o170000) === 0o010000 ? 'pipe' : 'anon_inode'}:[${st.ino}]`);
          },
          () => file.location ?? anonLocation(file) ?? fail(Errno.ENOENT, 'this file cannot be re-opened through /proc'),
        ));
      }
      return m;
    }, 0o500, () => this.info(pid).creds);
  }
}

abstract class ProcNode implements FsNode {
  constructor(
    readonly fs: ProcFs,
    readonly path: string,
    private readonly mode: number,
    private readonly owner?: () => { uid: number; gid: number },
  ) {}

  async stat(): Promise<Stat> {
    const o = this.owner?.() ?? { uid: 0, gid: 0 };
    return {
      dev: this.fs.dev,
      ino: this.fs.ino(this.path),
      mode: this.mode,
      nlink: 1,
      uid: o.uid,
      gid: o.gid,
      rdev: 0,
      size: 0n,
      blksize: 1024,
      blocks: 0n,
      atimeNs: this.fs.bootNs,
      mtimeNs: this.fs.bootNs,
      ctimeNs: this.fs.bootNs,
    };
  }
}

class ProcDir extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly entries: () => Map<string, FsNode>,
    perm: number,
    owner?: () => { uid: number; gid: number },
  ) {
    super(fs, path, S_IFDIR | perm, owner);
  }

  async lookup(name: string): Promise<FsNode | null> {
    return this.entries().get(name) ?? null;
  }

  async readdir(): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    for (const [name, n] of this.entries()) {
      const type = n instanceof ProcDir ? DT_DIR : n instanceof ProcLink ? DT_LNK : DT_REG;
      out.push({ name, ino: this.fs.ino((n as ProcNode).path), type });
    }
    return out;
  }
}

class ProcFile extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly generate: () => string | Buffer,
  ) {
    super(fs, path, S_IFREG | 0o444);
  }

  async open(): Promise<FileDescriptionImpl> {
    const g = this.generate();
    const data = typeof g === 'string' ? Buffer.from(g) : g;
    return {
      seekable: true,
      read: async (length, offset) => (offset >= BigInt(data.length) ? Buffer.alloc(0) : data.subarray(Number(offset), Number(offset) + length)),
      size: async () => BigInt(data.length),
    };
  }
}

class ProcLink extends ProcNode {
  constructor(
    fs: ProcFs,
    path: string,
    private readonly target: () => string | Promise<string>,
    private readonly location?: () => VirtualDentry,
  ) {
    super(fs, path, S_IFLNK | 0o777);
  }

  async readlink(): Promise<string> {
    return this.target();
  }

  async followLink(): Promise<VirtualDentry | null> {
    return this.location ? this.location() : null;
  }
}

function statusText(p: ProcessInfo): string {
  const c = p.creds;
  const states: Record<string, string> = { R: 'R (running)', S: 'S (sleeping)', D: 'D (disk sleep)', Z: 'Z (zombie)', T: 'T (stopped)' };
  return [
    `Name:\t${p.comm.slice(0, 15)}`,
    `State:\t${states[p.state] ?? p.state}`,
    `Tgid:\t${p.pid}`,
    `Pid:\t${p.pid}`,
    `PPid:\t${p.ppid}`,
    `Uid:\t${c.uid}\t${c.euid}\t${c.euid}\t${c.euid}`,
    `Gid:\t${c.gid}\t${c.egid}\t${c.egid}\t${c.egid}`,
    `Groups:\t${c.groups.join(' ')}`,
    `VmRSS:\t${p.rssKb ?? 0} kB`,
    `Threads:\t${p.threads.length}`,
    '',
  ].join('\n');
}

/** /proc/PID/stat (proc(5) field order); fields the sandbox does not track are 0. */
function statText(p: ProcessInfo): string {
  const ticks = Math.floor(p.startTimeMs / 10);
  const fields = [p.pid, `(${p.comm.slice(0, 15)})`, p.state, p.ppid, p.pgid, p.sid, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, p.threads.length, 0, ticks, 0, Math.floor((p.rssKb ?? 0) / 4)];
  while (fields.length < 52) fields.push(0);
  return fields.join(' ') + '\n';
}

function mapsLine(m: { start: bigint; end: bigint; perms: string; offset: bigint; name: string }): string {
  const hex = (v: bigint, w: number) => v.toString(16).padStart(w, '0');
  const head = `${hex(m.start, 8)}-${hex(m.end, 8)} ${m.perms} ${hex(m.offset, 8)} 00:00 0`;
  return m.name ? `${head.padEnd(73)}${m.name}\n` : `${head}\n`;
}

function mountsText(ns: MountNamespace | undefined): string {
  if (!ns) return '';
  const lines: string[] = [];
  for (const m of ns.mounts()) {
    let where = '/';
    if (m.parent && m.mountpoint) where = pathFrom(ns.rootLocation, { mount: m.parent, dentry: m.mountpoint }).path;
    const f = m.flags;
    const opts = [m.isReadonly ? 'ro' : 'rw', f.nosuid ? 'nosuid' : '', f.nodev ? 'nodev' : '', f.noexec ? 'noexec' : '']
      .filter(Boolean)
      .join(',');
    lines.push(`${m.source} ${where} ${m.fs.type} ${opts} 0 0\n`);
  }
  return lines.join('');
}

const mountIds = new WeakMap<object, number>();
let nextMountId = 1;
function mountId(m: object): number {
  let id = mountIds.get(m);
  if (id === undefined) {
    id = nextMountId++;
    mountIds.set(m, id);
  }
  return id;
}

/** /proc/PID/mountinfo (proc(5)): id, parent id, major:minor, root, mount point, options, "-", type, source. */
function mountinfoText(ns: MountNamespace | undefined): string {
  if (!ns) return '';
  return ns
    .mounts()
    .map((m) => {
      const where = m.parent && m.mountpoint ? pathFrom(ns.rootLocation, { mount: m.parent, dentry: m.mountpoint }).path : '/';
      const parent = m.parent ? mountId(m.parent) : mountId(m);
      const f = m.flags;
      const opts = [m.isReadonly ? 'ro' : 'rw', f.nosuid ? 'nosuid' : '', f.nodev ? 'nodev' : '', f.noexec ? 'noexec' : '']
        .filter(Boolean)
        .join(',');
      return `${mountId(m)} ${parent} 0:${m.fs.dev} / ${where} ${opts} - ${m.fs.type} ${m.source} ${m.isReadonly ? 'ro' : 'rw'}\n`;
    })
    .join('');
}

/** /proc/stat: CPU times from the host (in USER_HZ ticks), boot time and process counts. */
function statFile(source: ProcFsSource): string {
  const cpus = os.cpus();
  const ticks = (ms: number) => Math.floor(ms / 10);
  const line = (name: string, t: { user: number; nice: number; sys: number; idle: number; irq: number }) =>
    `${name} ${ticks(t.user)} ${ticks(t.nice)} ${ticks(t.sys)} ${ticks(t.idle)} 0 ${ticks(t.irq)} 0 0 0 0`;
  const total = cpus.reduce(
    (a, c) => ({ user: a.user + c.times.user, nice: a.nice + c.times.nice, sys: a.sys + c.times.sys, idle: a.idle + c.times.idle, irq: a.irq + c.times.irq }),
    { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 },
  );
  const btime = Math.floor((Date.now() - source.uptimeMs()) / 1000);
  const pids = source.pids();
  const running = pids.filter((p) => source.process(p)?.state === 'R').length;
  return [
    line('cpu ', total),
    ...cpus.map((c, i) => line(`cpu${i}`, c.times)),
    'intr 0',
    'ctxt 0',
    `btime ${btime}`,
    `processes ${pids.length}`,
    `procs_running ${running}`,
    'procs_blocked 0',
    '',
  ].join('\n');
}

function cpuinfo(): string {
  return os
    .cpus()
    .map((c, i) =>
      [
        `processor\t: ${i}`,
        'vendor_id\t: GenuineIntel',
        `model name\t: ${c.model}`,
        `cpu MHz\t\t: ${c.speed.toFixed(3)}`,
        `physical id\t: 0`,
        `core id\t\t: ${i}`,
        `cpu cores\t: ${os.cpus().length}`,
        'flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt avx avx2',
        '',
      ].join('\n'),
    )
    .join('\n') + '\n';
}

function meminfo(): string {
  const kb = (b: number) => `${Math.floor(b / 1024)} kB`.padStart(12);
  return [
    `MemTotal:     ${kb(os.totalmem())}`,
    `MemFree:      ${kb(os.freemem())}`,
    `MemAvailable: ${kb(os.freemem())}`,
    `Buffers:      ${kb(0)}`,
    `Cached:       ${kb(0)}`,
    `SwapTotal:    ${kb(0)}`,
    `SwapFree:     ${kb(0)}`,
    '',
  ].join('\n');
}
