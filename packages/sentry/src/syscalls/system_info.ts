// What a process learns about the system and its limits: uname(2), sysinfo(2), getrlimit(2)/setrlimit(2)/
// prlimit64(2), getrusage(2), times(2), prctl(2) (a subset), arch_prctl(2) codes other than ARCH_SET_FS/GET_FS
// (those run natively), sched_* queries.
import os from 'node:os';
import { Errno, fail } from '../kernel/syscall_error.js';
import { RLIM_INFINITY, type Task } from '../kernel/task.js';
import { threadTicks } from '../kernel/cpu_time.js';
import { rusageOf } from './process.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<Task>;
const i32 = (a: bigint): number => Number(BigInt.asIntN(32, a));

const UTS_FIELD = 65;

const uname: H = (t, [addr]) => {
  const b = Buffer.alloc(UTS_FIELD * 6);
  const { UTS_RELEASE, UTS_VERSION } = UTS;
  [
    'Linux',
    t.kernel.hostname,
    UTS_RELEASE,
    UTS_VERSION,
    'x86_64',
    '(none)',
  ].forEach((s, i) => b.write(s.slice(0, UTS_FIELD - 1), i * UTS_FIELD, 'utf8'));
  t.memory.write(addr, b);
  return 0;
};

/** Kept here (not imported from kernel.ts) so this module does not pull the kernel in. */
export const UTS = { UTS_RELEASE: '4.4.0', UTS_VERSION: '#1 SMP Sun Jan 10 15:06:54 PST 2016' } as const;

const sysinfo: H = (t, [addr]) => {
  // struct sysinfo (sysinfo(2)), mem_unit 1.
  const b = Buffer.alloc(112);
  const uptime = Math.floor((Date.now() - t.kernel.bootTime) / 1000);
  b.writeBigInt64LE(BigInt(uptime), 0);
  const load = os.loadavg();
  for (let i = 0; i < 3; i++) b.writeBigUInt64LE(BigInt(Math.floor(load[i]! * 65536)), 8 + i * 8);
  b.writeBigUInt64LE(BigInt(os.totalmem()), 32);
  b.writeBigUInt64LE(BigInt(os.freemem()), 40);
  b.writeUInt16LE(Math.min(t.kernel.pids.groups.size, 0xffff), 80);
  b.writeUInt32LE(1, 104);
  t.memory.write(addr, b);
  return 0;
};

const RLIMIT_NLIMITS = 16;
const RLIMIT_NOFILE = 7;

function getLimit(t: Task, res: number): [bigint, bigint] {
  if (res < 0 || res >= RLIMIT_NLIMITS) fail(Errno.EINVAL, `resource ${res}`);
  if (res === RLIMIT_NOFILE) {
    return [BigInt(t.fdTable.limit), t.tg.rlimits.get(RLIMIT_NOFILE)?.[1] ?? 1048576n];
  }
  return t.tg.rlimits.get(res) ?? [RLIM_INFINITY, RLIM_INFINITY];
}

function setLimit(t: Task, res: number, soft: bigint, hard: bigint): void {
  const [, oldHard] = getLimit(t, res);
  if (soft > hard) fail(Errno.EINVAL, 'soft limit above hard limit');
  if (hard > oldHard && t.creds.euid !== 0) fail(Errno.EPERM, 'raising a hard limit');
  if (res === RLIMIT_NOFILE) {
    if (hard > 1048576n) fail(Errno.EPERM, 'nr_open is 1048576');
    t.fdTable.limit = Number(soft);
  }
  t.tg.rlimits.set(res, [soft, hard]);
}

function writeLimit(t: Task, addr: bigint, lim: [bigint, bigint]): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(lim[0], 0);
  b.writeBigUInt64LE(lim[1], 8);
  t.memory.write(addr, b);
}

const getrlimit: H = (t, [res, addr]) => {
  writeLimit(t, addr, getLimit(t, i32(res)));
  return 0;
};

const setrlimit: H = (t, [res, addr]) => {
  const b = t.memory.read(addr, 16);
  setLimit(t, i32(res), b.readBigUInt64LE(0), b.readBigUInt64LE(8));
  return 0;
};

const prlimit64: H = (t, [pidArg, res, newAddr, oldAddr]) => {
  const pid = i32(pidArg);
  let target = t;
  if (pid !== 0 && pid !== t.pid) {
    const g = t.kernel.pids.group(pid);
    const leader = g?.leader;
    if (!g || !leader) fail(Errno.ESRCH);
    if (t.creds.euid !== 0 && t.creds.uid !== leader.creds.uid) fail(Errno.EPERM);
    target = leader;
  }
  const old = getLimit(target, i32(res));
  if (newAddr !== 0n) {
    const b = t.memory.read(newAddr, 16);
    setLimit(target, i32(res), b.readBigUInt64LE(0), b.readBigUInt64LE(8));
  }
  if (oldAddr !== 0n) writeLimit(t, oldAddr, old);
  return 0;
};

const RUSAGE_SELF = 0;
const RUSAGE_CHILDREN = -1;
const RUSAGE_THREAD = 1;
const getrusage: H = (t, [who, addr]) => {
  const w = i32(who);
  let ticks;
  if (w === RUSAGE_SELF) ticks = t.tg.selfTicks();
  else if (w === RUSAGE_CHILDREN) ticks = t.tg.childTicks;
  else if (w === RUSAGE_THREAD) ticks = threadTicks(t.hostTid) ?? { user: 0, system: 0 };
  else fail(Errno.EINVAL, `who ${w}`);
  // Partial: only the CPU times are kept; memory and I/O counters are zero.
  t.memory.write(addr, rusageOf(ticks));
  return 0;
};

const times: H = (t, [addr]) => {
  if (addr !== 0n) {
    // struct tms: tms_utime, tms_stime, tms_cutime, tms_cstime in clock ticks (times(2)).
    const self = t.tg.selfTicks();
    const b = Buffer.alloc(32);
    b.writeBigInt64LE(BigInt(self.user), 0);
    b.writeBigInt64LE(BigInt(self.system), 8);
    b.writeBigInt64LE(BigInt(t.tg.childTicks.user), 16);
    b.writeBigInt64LE(BigInt(t.tg.childTicks.system), 24);
    t.memory.write(addr, b);
  }
  // clock ticks (USER_HZ 100) since an arbitrary point: the sandbox's boot.
  return BigInt(Math.floor((Date.now() - t.kernel.bootTime) / 10));
};

const PR_SET_PDEATHSIG = 1;
const PR_GET_PDEATHSIG = 2;
const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
const PR_SET_NAME = 15;
const PR_GET_NAME = 16;
const PR_GET_SECCOMP = 21;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_GET_NO_NEW_PRIVS = 39;
const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;
const PR_CAPBSET_READ = 23;

const prctl: H = (t, [opArg, a2]) => {
  const op = i32(opArg);
  switch (op) {
    case PR_SET_NAME: {
      const name = t.memory.read(a2, 16);
      const z = name.indexOf(0);
      t.name = name.subarray(0, z < 0 ? 15 : Math.min(z, 15)).toString('utf8');
      return 0;
    }
    case PR_GET_NAME: {
      const b = Buffer.alloc(16);
      b.write((t.name ?? t.tg.comm).slice(0, 15));
      t.memory.write(a2, b);
      return 0;
    }
    case PR_GET_DUMPABLE:
      return 1;
    case PR_SET_DUMPABLE:
      if (a2 > 1n) fail(Errno.EINVAL);
      return 0;
    case PR_SET_PDEATHSIG: {
      const sig = Number(a2);
      if (a2 > 64n || (sig !== 0 && !Number.isInteger(sig))) fail(Errno.EINVAL, `signal ${a2}`);
      t.pdeathSignal = sig;
      return 0;
    }
    case PR_SET_NO_NEW_PRIVS:
      return 0;
    case PR_SET_CHILD_SUBREAPER:
      t.tg.childSubreaper = a2 !== 0n;
      return 0;
    case PR_GET_PDEATHSIG:
      t.memory.writeU32(a2, t.pdeathSignal);
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      return 1;
    case PR_GET_CHILD_SUBREAPER:
      t.memory.writeU32(a2, t.tg.childSubreaper ? 1 : 0);
      return 0;
    case PR_GET_SECCOMP:
      return 2;
    case PR_CAPBSET_READ:
      return a2 < 41n ? 1 : fail(Errno.EINVAL);
    default:
      fail(Errno.EINVAL, `prctl option ${op} not supported`);
  }
};

const ARCH_GET_CPUID = 0x1011;
const ARCH_SET_GS = 0x1001;
const ARCH_GET_GS = 0x1004;

const arch_prctl: H = (t, [codeArg, addr]) => {
  const code = i32(codeArg);
  switch (code) {
    case ARCH_GET_CPUID:
      return 1;
    case ARCH_GET_GS:
      t.memory.writeU64(addr, 0n);
      return 0;
    case ARCH_SET_GS:
      fail(Errno.EPERM, 'ARCH_SET_GS is not supported in the sandbox');
    default:
      fail(Errno.EINVAL, `arch_prctl code 0x${code.toString(16)}`);
  }
};

const sched_getscheduler: H = () => 0; // SCHED_OTHER
const sched_getparam: H = (t, [, addr]) => {
  t.memory.writeU32(addr, 0);
  return 0;
};
const sched_get_priority_max: H = (_t, [policy]) => (i32(policy) === 1 || i32(policy) === 2 ? 99 : 0);
const sched_get_priority_min: H = (_t, [policy]) => (i32(policy) === 1 || i32(policy) === 2 ? 1 : 0);
const getpriority: H = () => 20; // nice 0, encoded as 20 - nice (getpriority(2) NOTES)
const setpriority: H = () => 0;

const sethostname: H = () => fail(Errno.EPERM, 'the hostname belongs to the sandbox configuration');
const setdomainname: H = () => fail(Errno.EPERM, 'the domain name belongs to the sandbox configuration');
/** Operations on the machine as a whole: never the sandbox's to do. */
const machineWide: H = () => fail(Errno.EPERM, 'not permitted in the sandbox');

// NUMA memory policy (set_mempolicy(2)): one node, the default policy; requests are accepted and change nothing.
const MPOL_DEFAULT = 0;
const MPOL_F_NODE = 1;
const MPOL_F_ADDR = 2;
const get_mempolicy: H = (t, [modeAddr, nodemask, maxnode, , flags]) => {
  const f = i32(flags);
  if (f & ~(MPOL_F_NODE | MPOL_F_ADDR | 4)) fail(Errno.EINVAL);
  if (modeAddr !== 0n) t.memory.writeU32(modeAddr, MPOL_DEFAULT);
  if (nodemask !== 0n && maxnode > 0n) {
    const bytes = Number(((maxnode + 63n) / 64n) * 8n);
    if (bytes > 4096) fail(Errno.EINVAL);
    const mask = Buffer.alloc(bytes);
    mask[0] = 1; // node 0
    t.memory.write(nodemask, mask);
  }
  return 0;
};
const set_mempolicy: H = () => 0;
const mbind: H = () => 0;

const PER_QUERY = 0xffffffff;
const personality: H = (t, [persona]) => {
  const p = Number(persona & 0xffffffffn);
  const old = t.tg.personality;
  if (p !== PER_QUERY) t.tg.personality = p;
  return old;
};

// capget(2)/capset(2): the sandbox's root holds every capability (CAP_LAST_CAP 40), others none; capset may only
// lower them, which the sentry accepts without keeping (Partial).
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const ALL_CAPS_LOW = 0xffffffff;
const ALL_CAPS_HIGH = 0x1ff;
const capget: H = (t, [hdr, data]) => {
  const version = t.memory.readU32(hdr);
  if (version !== LINUX_CAPABILITY_VERSION_3 && version !== 0x20071026 && version !== 0x19980330) {
    t.memory.writeU32(hdr, LINUX_CAPABILITY_VERSION_3);
    if (data === 0n) return 0;
    fail(Errno.EINVAL, 'capability version');
  }
  if (data === 0n) return 0;
  const root = t.creds.euid === 0;
  const words = version === 0x19980330 ? 1 : 2;
  const b = Buffer.alloc(12 * words);
  for (let i = 0; i < words; i++) {
    const v = root ? (i === 0 ? ALL_CAPS_LOW : ALL_CAPS_HIGH) : 0;
    b.writeUInt32LE(v, i * 12); // effective
    b.writeUInt32LE(v, i * 12 + 4); // permitted
  }
  t.memory.write(data, b);
  return 0;
};
const capset: H = (t, [hdr]) => {
  const version = t.memory.readU32(hdr);
  if (version !== LINUX_CAPABILITY_VERSION_3 && version !== 0x20071026 && version !== 0x19980330) fail(Errno.EINVAL);
  return 0;
};

const ioprio_get: H = () => 4; // IOPRIO_CLASS_NONE, level 4 (the default best-effort level)
const ioprio_set: H = () => 0;

export const systemInfoSyscalls: Partial<Record<SyscallName, H>> = {
  uname,
  sysinfo,
  getrlimit,
  setrlimit,
  prlimit64,
  getrusage,
  times,
  prctl,
  arch_prctl,
  sched_getscheduler,
  sched_getparam,
  sched_get_priority_max,
  sched_get_priority_min,
  getpriority,
  setpriority,
  sethostname,
  setdomainname,
  reboot: machineWide,
  syslog: machineWide,
  acct: machineWide,
  vhangup: machineWide,
  settimeofday: machineWide,
  clock_settime: machineWide,
  clock_adjtime: machineWide,
  adjtimex: machineWide,
  swapon: machineWide,
  swapoff: machineWide,
  init_module: machineWide,
  finit_module: machineWide,
  delete_module: machineWide,
  kexec_load: machineWide,
  get_mempolicy,
  set_mempolicy,
  mbind,
  personality,
  capget,
  capset,
  ioprio_get,
  ioprio_set,
};
