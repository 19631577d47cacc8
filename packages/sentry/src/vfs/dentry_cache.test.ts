// The bounded dentry cache: past its limit, unpinned leaves are dropped and looked up again on demand; what is
// pinned (cwd, open files, mount points) stays; an overlay keeps one copy-up per name even when its node objects
// are dropped and re-made.
import { afterEach, describe, expect, it } from 'vitest';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { OverlayFs } from '../fsimpl/overlay.js';
import { AT_FDCWD, AT_REMOVEDIR, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from './constants.js';
import { FdTable } from './fd_table.js';
import { FsContext } from './fs_context.js';
import { dentryCache, MountNamespace } from './mount.js';
import { chdirPath, getcwd, mkdirAt, openAt, statAt, unlinkAt, type TaskFs } from './operations.js';
import type { FilesystemImpl } from './filesystem.js';

const creds = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };
const taskOn = (fs: FilesystemImpl): TaskFs => {
  const ns = new MountNamespace(fs);
  return { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
};
const saved = dentryCache.limit;
afterEach(() => {
  dentryCache.limit = saved;
});

describe('dentry cache', () => {
  it('stays bounded over a large tree and still resolves every name', async () => {
    const t = taskOn(new Tmpfs({ mode: 0o755 }));
    await mkdirAt(t, AT_FDCWD, '/big', 0o755);
    dentryCache.limit = 50;
    for (let i = 0; i < 300; i++) await openAt(t, AT_FDCWD, `/big/f${i}`, O_CREAT | O_WRONLY, 0o644);
    expect(dentryCache.size).toBeLessThanOrEqual(50);
    for (let i = 0; i < 300; i += 37) expect((await statAt(t, AT_FDCWD, `/big/f${i}`, 0)).size).toBe(0n);
  });

  it('keeps pinned dentries: a removed cwd is still seen as removed after heavy eviction', async () => {
    const t = taskOn(new Tmpfs({ mode: 0o755 }));
    await mkdirAt(t, AT_FDCWD, '/work', 0o755);
    await chdirPath(t, '/work');
    const f = await openAt(t, AT_FDCWD, '/work/open', O_CREAT | O_RDWR, 0o644);
    t.fdTable.install(f);
    dentryCache.limit = 20;
    for (let i = 0; i < 100; i++) await mkdirAt(t, AT_FDCWD, `/d${i}`, 0o755);
    expect(f.location!.dentry.parent!.cachedChild('open')).toBe(f.location!.dentry);
    await unlinkAt(t, AT_FDCWD, '/work/open', 0);
    expect(f.location!.dentry.dead).toBe(true);
    await unlinkAt(t, AT_FDCWD, '/work', AT_REMOVEDIR);
    expect(() => getcwd(t)).toThrow(/ENOENT/);
  });

  it('an overlay copies a file up once even when its node objects are evicted between writes', async () => {
    const lower = new Tmpfs({ mode: 0o755 });
    const lt = taskOn(lower);
    await (await openAt(lt, AT_FDCWD, '/file', O_CREAT | O_WRONLY, 0o644)).write(Buffer.from('lower'));
    for (let i = 0; i < 50; i++) await openAt(lt, AT_FDCWD, `/other${i}`, O_CREAT | O_WRONLY, 0o644);
    const t = taskOn(new OverlayFs(lower, new Tmpfs({ mode: 0o755 })));
    dentryCache.limit = 10;
    const first = await openAt(t, AT_FDCWD, '/file', O_RDWR, 0);
    first.incRef();
    await first.pwrite(Buffer.from('L'), 0n);
    for (let i = 0; i < 50; i++) await statAt(t, AT_FDCWD, `/other${i}`, 0);
    const second = await openAt(t, AT_FDCWD, '/file', O_RDWR, 0);
    await second.pwrite(Buffer.from('W'), 4n);
    const check = await openAt(t, AT_FDCWD, '/file', O_RDONLY, 0);
    expect((await check.pread(10, 0n)).toString()).toBe('LoweW');
  });
});
