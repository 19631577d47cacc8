// Permission checks for an unprivileged task compared with Linux itself: the same tree is built (as root) in a
// host temp dir and in a tmpfs; the host side's operations run in a child process with uid/gid 1000, the VFS side
// with credentials 1000/1000; every operation must succeed or fail with the same errno on both.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errnoName } from '../kernel/errno.js';
import { SyscallError } from '../kernel/syscall_error.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { AT_FDCWD, AT_REMOVEDIR, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from './constants.js';
import { FdTable } from './fd_table.js';
import { FsContext } from './fs_context.js';
import { MountNamespace } from './mount.js';
import {
  accessAt,
  chmodLocation,
  chownLocation,
  lookupAt,
  mkdirAt,
  openAt,
  renameAt,
  statAt,
  symlinkAt,
  truncateLocation,
  unlinkAt,
  utimesLocation,
  type TaskFs,
} from './operations.js';

const root = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] as number[] };
const user = { uid: 1000, gid: 1000, euid: 1000, egid: 1000, groups: [] as number[] };

/** The tree: [path, kind, mode, uid, gid]. */
const TREE: Array<[string, 'dir' | 'file', number, number, number]> = [
  ['private', 'dir', 0o700, 0, 0],
  ['private/secret', 'file', 0o644, 0, 0],
  ['searchonly', 'dir', 0o711, 0, 0],
  ['searchonly/visible', 'file', 0o644, 0, 0],
  ['rootdir', 'dir', 0o755, 0, 0],
  ['rootdir/ro', 'file', 0o644, 0, 0],
  ['rootdir/rootonly', 'file', 0o600, 0, 0],
  ['rootdir/everyone', 'file', 0o666, 0, 0],
  ['rootdir/readonly', 'file', 0o444, 1000, 1000],
  ['sticky', 'dir', 0o1777, 0, 0],
  ['sticky/roots', 'file', 0o666, 0, 0],
  ['sticky/mine', 'file', 0o644, 1000, 1000],
  ['open', 'dir', 0o777, 0, 0],
  ['open/roots', 'file', 0o644, 0, 0],
  ['groupdir', 'dir', 0o770, 0, 1000],
  ['groupdir/g', 'file', 0o640, 0, 1000],
];

type Op = [name: string, mine: (t: TaskFs) => Promise<unknown>, host: string];
const at = (t: TaskFs, p: string, follow = true) => lookupAt(t, AT_FDCWD, p, { follow });

// Each operation: the VFS side, and the same thing as a line of Node code run by uid 1000 on the host (`d` is the
// host dir). Successful operations use names no other case touches.
const OPS: Op[] = [
  ['stat through 0700', (t) => statAt(t, AT_FDCWD, 'private/secret', 0), `fs.statSync(d+'/private/secret')`],
  ['list 0700', (t) => openAt(t, AT_FDCWD, 'private', O_RDONLY, 0), `fs.closeSync(fs.openSync(d+'/private', 'r'))`],
  ['list 0711', (t) => openAt(t, AT_FDCWD, 'searchonly', O_RDONLY, 0), `fs.closeSync(fs.openSync(d+'/searchonly', 'r'))`],
  ['read through 0711', (t) => openAt(t, AT_FDCWD, 'searchonly/visible', O_RDONLY, 0), `fs.closeSync(fs.openSync(d+'/searchonly/visible', 'r'))`],
  ['read 0600 root', (t) => openAt(t, AT_FDCWD, 'rootdir/rootonly', O_RDONLY, 0), `fs.closeSync(fs.openSync(d+'/rootdir/rootonly', 'r'))`],
  ['write 0644 root', (t) => openAt(t, AT_FDCWD, 'rootdir/ro', O_WRONLY, 0), `fs.closeSync(fs.openSync(d+'/rootdir/ro', fs.constants.O_WRONLY))`],
  ['write 0666 root', (t) => openAt(t, AT_FDCWD, 'rootdir/everyone', O_RDWR, 0), `fs.closeSync(fs.openSync(d+'/rootdir/everyone', fs.constants.O_RDWR))`],
  ['trunc own 0444', (t) => openAt(t, AT_FDCWD, 'rootdir/readonly', O_WRONLY | O_TRUNC, 0), `fs.closeSync(fs.openSync(d+'/rootdir/readonly', fs.constants.O_WRONLY|fs.constants.O_TRUNC))`],
  ['create in 0755 root dir', (t) => openAt(t, AT_FDCWD, 'rootdir/new', O_CREAT | O_WRONLY, 0o644), `fs.closeSync(fs.openSync(d+'/rootdir/new', 'w'))`],
  ['mkdir in 0755 root dir', (t) => mkdirAt(t, AT_FDCWD, 'rootdir/nd', 0o755), `fs.mkdirSync(d+'/rootdir/nd')`],
  ['symlink in 0755 root dir', (t) => symlinkAt(t, 'x', AT_FDCWD, 'rootdir/sl'), `fs.symlinkSync('x', d+'/rootdir/sl')`],
  ['unlink in 0755 root dir', (t) => unlinkAt(t, AT_FDCWD, 'rootdir/everyone', 0), `fs.unlinkSync(d+'/rootdir/everyone')`],
  ['unlink other in sticky', (t) => unlinkAt(t, AT_FDCWD, 'sticky/roots', 0), `fs.unlinkSync(d+'/sticky/roots')`],
  ['rename other in sticky', (t) => renameAt(t, AT_FDCWD, 'sticky/roots', AT_FDCWD, 'sticky/x', 0), `fs.renameSync(d+'/sticky/roots', d+'/sticky/x')`],
  ['unlink own in sticky', (t) => unlinkAt(t, AT_FDCWD, 'sticky/mine', 0), `fs.unlinkSync(d+'/sticky/mine')`],
  ['unlink other in 0777', (t) => unlinkAt(t, AT_FDCWD, 'open/roots', 0), `fs.unlinkSync(d+'/open/roots')`],
  ['create in 0777', (t) => openAt(t, AT_FDCWD, 'open/created', O_CREAT | O_WRONLY, 0o644), `fs.closeSync(fs.openSync(d+'/open/created', 'w'))`],
  ['rmdir 0755 root dir from 0777', (t) => mkdirAt(t, AT_FDCWD, 'open/sub', 0o755).then(() => unlinkAt(t, AT_FDCWD, 'open/sub', AT_REMOVEDIR)), `fs.mkdirSync(d+'/open/sub'); fs.rmdirSync(d+'/open/sub')`],
  ['chmod root file', async (t) => chmodLocation(t, await at(t, 'rootdir/ro'), 0o777), `fs.chmodSync(d+'/rootdir/ro', 0o777)`],
  ['chmod own file', async (t) => chmodLocation(t, await at(t, 'rootdir/readonly'), 0o444), `fs.chmodSync(d+'/rootdir/readonly', 0o444)`],
  ['chown own file to root', async (t) => chownLocation(t, await at(t, 'rootdir/readonly'), 0, -1), `fs.chownSync(d+'/rootdir/readonly', 0, -1)`],
  ['chgrp own file to other group', async (t) => chownLocation(t, await at(t, 'rootdir/readonly'), -1, 0), `fs.chownSync(d+'/rootdir/readonly', -1, 0)`],
  ['utimes explicit root file', async (t) => utimesLocation(t, await at(t, 'rootdir/everyone'), 1n, 1n, true), `fs.utimesSync(d+'/rootdir/everyone', 1, 1)`],
  ['truncate root 0644', async (t) => truncateLocation(t, await at(t, 'rootdir/ro'), 0n), `fs.truncateSync(d+'/rootdir/ro', 0)`],
  ['access W root 0644', (t) => accessAt(t, AT_FDCWD, 'rootdir/ro', 2, 0), `fs.accessSync(d+'/rootdir/ro', fs.constants.W_OK)`],
  ['access R group file', (t) => accessAt(t, AT_FDCWD, 'groupdir/g', 4, 0), `fs.accessSync(d+'/groupdir/g', fs.constants.R_OK)`],
  ['access X file', (t) => accessAt(t, AT_FDCWD, 'rootdir/ro', 1, 0), `fs.accessSync(d+'/rootdir/ro', fs.constants.X_OK)`],
  ['write group file', (t) => openAt(t, AT_FDCWD, 'groupdir/g', O_WRONLY, 0), `fs.closeSync(fs.openSync(d+'/groupdir/g', fs.constants.O_WRONLY))`],
];

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return errnoName(e.errno);
    throw e;
  }
}

describe.skipIf(process.getuid?.() !== 0)('permissions for uid 1000 match Linux', () => {
  let host: string;
  let t: TaskFs;
  let native: Record<string, string>;

  beforeAll(async () => {
    host = fs.mkdtempSync(join(tmpdir(), 'tsv-perm-'));
    fs.chmodSync(host, 0o755);
    const ns = new MountNamespace(new Tmpfs({ mode: 0o755 }));
    const rootTask: TaskFs = { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds: root };
    rootTask.fsContext.umask = 0;
    for (const [p, kind, mode, uid, gid] of TREE) {
      const hp = join(host, p);
      if (kind === 'dir') {
        fs.mkdirSync(hp);
        await mkdirAt(rootTask, AT_FDCWD, '/' + p, mode);
      } else {
        fs.writeFileSync(hp, 'x');
        await openAt(rootTask, AT_FDCWD, '/' + p, O_CREAT | O_WRONLY, mode);
      }
      fs.chmodSync(hp, mode);
      fs.chownSync(hp, uid, gid);
      const vd = await lookupAt(rootTask, AT_FDCWD, '/' + p, { follow: false });
      await chownLocation(rootTask, vd, uid, gid);
      await chmodLocation(rootTask, vd, mode);
    }
    t = { ...rootTask, fsContext: rootTask.fsContext.fork(), creds: user };
    // The host side: every operation in one child process running as 1000:1000, in order.
    const script = `
      const fs = require('node:fs'); const d = process.argv[1]; const out = {};
      const ops = ${JSON.stringify(OPS.map(([name, , code]) => [name, code]))};
      for (const [name, code] of ops) { try { eval(code); out[name] = 'ok'; } catch (e) { out[name] = e.code; } }
      process.stdout.write(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['-e', script, host], { uid: 1000, gid: 1000, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`native side failed: ${r.stderr}`);
    native = JSON.parse(r.stdout) as Record<string, string>;
  });
  afterAll(() => fs.rmSync(host, { recursive: true, force: true }));

  it('every operation agrees', async () => {
    const mine: Record<string, string> = {};
    t.fsContext.cwd = t.fsContext.root;
    for (const [name, op] of OPS) mine[name] = await outcome(op(t));
    expect(mine).toEqual(native);
    // The list must exercise both outcomes.
    expect(Object.values(native)).toContain('ok');
    expect(Object.values(native)).toContain('EACCES');
    expect(Object.values(native)).toContain('EPERM');
  });
});
