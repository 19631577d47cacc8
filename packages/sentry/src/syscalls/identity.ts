// User and group ids (credentials(7)): the sandbox's own ids, kept by the sentry per task. The host process keeps
// running with the sentry's host credentials; only the sentry's answers change.
import { Errno, fail } from '../kernel/syscall_error.js';
import type { Task } from '../kernel/task.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<Task>;

/** -1 as uid_t/gid_t means "leave unchanged". */
const KEEP = 0xffffffff;
const NGROUPS_MAX = 65536;
const id32 = (a: bigint): number => Number(a & 0xffffffffn);

/** CAP_SETUID / CAP_SETGID stand-in: the sandbox's root (euid 0) holds every capability. */
const privileged = (t: Task): boolean => t.creds.euid === 0;

/** The saved set-user-id and set-group-id of a task's credentials (credentials(7)); the effective ids at first use. */
const saved = new WeakMap<Task['creds'], { suid: number; sgid: number }>();
export function savedOf(t: Pick<Task, 'creds'>): { suid: number; sgid: number } {
  let s = saved.get(t.creds);
  if (!s) {
    s = { suid: t.creds.euid, sgid: t.creds.egid };
    saved.set(t.creds, s);
  }
  return s;
}

const getuid: H = (t) => t.creds.uid;
const geteuid: H = (t) => t.creds.euid;
const getgid: H = (t) => t.creds.gid;
const getegid: H = (t) => t.creds.egid;

const setuid: H = (t, [a]) => {
  const uid = id32(a);
  if (uid === KEEP) fail(Errno.EINVAL, '(uid_t)-1 is not a valid id'); // uid_valid() in kernel/sys.c
  const s = savedOf(t);
  if (privileged(t)) {
    t.creds.uid = t.creds.euid = s.suid = uid;
  } else if (uid === t.creds.uid || uid === s.suid) {
    t.creds.euid = uid;
  } else fail(Errno.EPERM);
  return 0;
};

const setgid: H = (t, [a]) => {
  const gid = id32(a);
  if (gid === KEEP) fail(Errno.EINVAL, '(gid_t)-1 is not a valid id');
  const s = savedOf(t);
  if (privileged(t)) {
    t.creds.gid = t.creds.egid = s.sgid = gid;
  } else if (gid === t.creds.gid || gid === s.sgid) {
    t.creds.egid = gid;
  } else fail(Errno.EPERM);
  return 0;
};

function setres(t: Task, which: 'u' | 'g', r: number, e: number, sv: number): number {
  const s = savedOf(t);
  const cur = which === 'u' ? [t.creds.uid, t.creds.euid, s.suid] : [t.creds.gid, t.creds.egid, s.sgid];
  if (!privileged(t)) {
    for (const v of [r, e, sv]) if (v !== KEEP && !cur.includes(v)) fail(Errno.EPERM);
  }
  if (which === 'u') {
    if (r !== KEEP) t.creds.uid = r;
    if (e !== KEEP) t.creds.euid = e;
    if (sv !== KEEP) s.suid = sv;
  } else {
    if (r !== KEEP) t.creds.gid = r;
    if (e !== KEEP) t.creds.egid = e;
    if (sv !== KEEP) s.sgid = sv;
  }
  return 0;
}

const setresuid: H = (t, [r, e, s]) => setres(t, 'u', id32(r), id32(e), id32(s));
const setresgid: H = (t, [r, e, s]) => setres(t, 'g', id32(r), id32(e), id32(s));
/**
 * setreuid(2)/setregid(2) (kernel/sys.c): unprivileged, the real id may become the real or effective id, the
 * effective id any of the three. Setting the real id, or an effective id other than the old real id, also sets
 * the saved id to the new effective id: that is how a process drops root for good.
 */
function setre(t: Task, which: 'u' | 'g', r: number, e: number): number {
  const s = savedOf(t);
  const [real, eff, sav] = which === 'u' ? [t.creds.uid, t.creds.euid, s.suid] : [t.creds.gid, t.creds.egid, s.sgid];
  if (!privileged(t)) {
    if (r !== KEEP && r !== real && r !== eff) fail(Errno.EPERM);
    if (e !== KEEP && e !== real && e !== eff && e !== sav) fail(Errno.EPERM);
  }
  const newEff = e !== KEEP ? e : eff;
  const newSaved = r !== KEEP || (e !== KEEP && e !== real) ? newEff : sav;
  if (which === 'u') {
    if (r !== KEEP) t.creds.uid = r;
    t.creds.euid = newEff;
    s.suid = newSaved;
  } else {
    if (r !== KEEP) t.creds.gid = r;
    t.creds.egid = newEff;
    s.sgid = newSaved;
  }
  return 0;
}
const setreuid: H = (t, [r, e]) => setre(t, 'u', id32(r), id32(e));
const setregid: H = (t, [r, e]) => setre(t, 'g', id32(r), id32(e));

function getres(t: Task, vals: number[], addrs: bigint[]): number {
  addrs.forEach((a, i) => t.memory.writeU32(a, vals[i]!));
  return 0;
}
const getresuid: H = (t, [r, e, s]) => getres(t, [t.creds.uid, t.creds.euid, savedOf(t).suid], [r, e, s]);
const getresgid: H = (t, [r, e, s]) => getres(t, [t.creds.gid, t.creds.egid, savedOf(t).sgid], [r, e, s]);

const getgroups: H = (t, [sizeArg, list]) => {
  const size = Number(BigInt.asIntN(32, sizeArg));
  const g = t.creds.groups;
  if (size < 0) fail(Errno.EINVAL);
  if (size === 0) return g.length;
  if (size < g.length) fail(Errno.EINVAL);
  const b = Buffer.alloc(g.length * 4);
  g.forEach((v, i) => b.writeUInt32LE(v, i * 4));
  t.memory.write(list, b);
  return g.length;
};

const setgroups: H = (t, [sizeArg, list]) => {
  const size = Number(BigInt.asIntN(32, sizeArg));
  if (!privileged(t)) fail(Errno.EPERM);
  if (size < 0 || size > NGROUPS_MAX) fail(Errno.EINVAL);
  const b = t.memory.read(list, size * 4);
  t.creds.groups = Array.from({ length: size }, (_, i) => b.readUInt32LE(i * 4));
  return 0;
};

/** setfsuid/setfsgid return the previous value and are not kept apart from the effective id. */
const setfsuid: H = (t) => t.creds.euid;
const setfsgid: H = (t) => t.creds.egid;

export const identitySyscalls: Partial<Record<SyscallName, H>> = {
  getuid,
  geteuid,
  getgid,
  getegid,
  setuid,
  setgid,
  setreuid,
  setregid,
  setresuid,
  setresgid,
  getresuid,
  getresgid,
  getgroups,
  setgroups,
  setfsuid,
  setfsgid,
};
