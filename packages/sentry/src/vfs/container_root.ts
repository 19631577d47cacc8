// The container's file-system tree at boot: the root from the gofer (overlaid with a memory upper layer unless
// --overlay=none), then the OCI spec's mounts in order (runtime-spec config.md "Mounts"): proc, tmpfs (a tmpfs at
// /dev gets the standard device nodes), bind mounts (served by the gofer), sysfs/devpts/mqueue (see below).
import type { P9Client } from '@tsvisor/p9';
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import { createDevfs } from '../fsimpl/dev.js';
import { GoferFs } from '../fsimpl/gofer.js';
import { OverlayFs } from '../fsimpl/overlay.js';
import { ProcFs, type ProcFsSource } from '../fsimpl/proc.js';
import { createSysfs } from '../fsimpl/sys.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { isDir } from './constants.js';
import type { FilesystemImpl } from './filesystem.js';
import { DEFAULT_MOUNT_FLAGS, MountNamespace, type MountFlags, type VirtualDentry } from './mount.js';
import { resolve, walk } from './path_resolution.js';

/** One entry of the OCI spec's `mounts` (same shape as runsc's OciMount). */
export interface ContainerMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface ContainerRootOptions {
  gofer: P9Client;
  /** 'memory': writes go to a tmpfs upper layer and never reach the image; 'none': straight to the gofer. */
  overlay: 'memory' | 'none';
  mounts: ContainerMount[];
  /** root.readonly in the OCI spec. */
  readonly: boolean;
  /** Attach name of the root file system on the gofer (default '/'). */
  rootAname?: string;
  /** Attach name of a bind mount on the gofer (default: its destination). */
  bindAname?: (m: ContainerMount) => string;
  /** The kernel's processes for /proc (may be set later through the returned procfs). */
  processes?: ProcFsSource;
}

export interface ContainerRoot {
  mounts: MountNamespace;
  root: VirtualDentry;
  /** The /proc instance, if the spec mounts one (its `source` can be set once the kernel exists). */
  procfs: ProcFs | null;
}

const BOOT_CREDS = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };

function mountFlags(options: string[]): MountFlags {
  const f = { ...DEFAULT_MOUNT_FLAGS };
  for (const o of options) {
    if (o === 'ro') f.readonly = true;
    else if (o === 'rw') f.readonly = false;
    else if (o === 'nosuid') f.nosuid = true;
    else if (o === 'nodev') f.nodev = true;
    else if (o === 'noexec') f.noexec = true;
  }
  return f;
}

function optionValue(options: string[], key: string): string | undefined {
  const o = options.find((x) => x.startsWith(`${key}=`));
  return o?.slice(key.length + 1);
}

/** tmpfs size= option: bytes with an optional k/m/g suffix. */
function parseSize(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^(\d+)([kmg%]?)$/i.exec(v);
  if (!m || m[2] === '%') return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

/** Creates the directories of `path` that do not exist yet (mkdir -p), as runc does for mount destinations. */
async function ensureDir(ns: MountNamespace, path: string): Promise<VirtualDentry> {
  const ctx = { root: ns.rootLocation, creds: BOOT_CREDS };
  let cur = ns.rootLocation;
  for (const comp of path.split('/').filter(Boolean)) {
    const r = await walk(ctx, cur, comp, { followFinal: true });
    if (r.child) {
      if (!isDir((await r.child.dentry.node.stat()).mode)) fail(Errno.ENOTDIR, `mount destination ${path}: ${comp} is not a directory`);
      cur = r.child;
      continue;
    }
    const node = r.parent.dentry.node;
    if (!node.mkdir || r.parent.mount.isReadonly) fail(Errno.EROFS, `cannot create mount point ${path} on a read-only root`);
    const made = await node.mkdir(r.name, { mode: 0o755, uid: 0, gid: 0 });
    cur = { mount: r.parent.mount, dentry: r.parent.dentry.addChild(r.name, made) };
  }
  return resolve(ctx, ns.rootLocation, path, { followFinal: true });
}

export async function buildContainerRoot(opts: ContainerRootOptions): Promise<ContainerRoot> {
  const lower = await GoferFs.attach(opts.gofer, opts.rootAname ?? '/', {
    readonly: opts.overlay === 'memory' || opts.readonly,
  });
  let rootFs: FilesystemImpl = lower;
  if (opts.overlay === 'memory') {
    const overlay = new OverlayFs(lower, new Tmpfs({ mode: 0o755 }));
    await overlay.adoptLowerRootAttributes();
    rootFs = overlay;
  }
  const ns = new MountNamespace(rootFs, opts.overlay === 'memory' ? 'overlay' : 'gofer');
  let procfs: ProcFs | null = null;
  // Mounts are made in the spec's order, each destination resolved (and its missing directories created) after
  // the mounts before it, as runc does: `/dev/pts` is then made inside the `/dev` tmpfs, not in the image. A
  // read-only root is sealed only at the end, as runc remounts the rootfs read-only after preparing it.
  for (const m of opts.mounts) {
    const options = [...(m.options ?? [])];
    const type = options.includes('bind') || options.includes('rbind') ? 'bind' : (m.type ?? 'bind');
    let fs: FilesystemImpl;
    switch (type) {
      case 'proc':
        procfs = new ProcFs(opts.processes, () => ns);
        fs = procfs;
        break;
      case 'tmpfs': {
        const mode = optionValue(options, 'mode');
        const tmp = {
          mode: mode ? parseInt(mode, 8) : 0o1777,
          sizeLimit: parseSize(optionValue(options, 'size')),
        };
        fs = m.destination === '/dev' ? createDevfs() : new Tmpfs(tmp);
        break;
      }
      case 'bind':
        fs = await GoferFs.attach(opts.gofer, opts.bindAname?.(m) ?? m.destination, {
          readonly: options.includes('ro'),
        });
        break;
      // sysfs holds the CPU topology files only (fsimpl/sys.ts), always read-only. Not served this session:
      // devpts is an empty tmpfs (no pseudo-terminals), mqueue an empty tmpfs (no POSIX message queues); cgroup
      // mounts are skipped.
      case 'sysfs':
        fs = createSysfs();
        options.push('ro');
        break;
      case 'devpts':
      case 'mqueue':
        fs = new Tmpfs({ mode: 0o755 });
        break;
      case 'cgroup':
      case 'cgroup2':
        continue;
      default:
        throw new SyscallError(Errno.ENODEV, `mount ${m.destination}: file system type ${type} is not supported`);
    }
    const at = await ensureDir(ns, m.destination);
    ns.mount(at, fs, m.source ?? type, mountFlags(options));
  }
  if (opts.readonly) ns.root.flags.readonly = true;
  return { mounts: ns, root: ns.rootLocation, procfs };
}
