// sysfs, the small part programs read: /sys/devices/system/cpu/{online,possible,present} (glibc's
// get_nprocs and sysconf(_SC_NPROCESSORS_ONLN) read "online"), and the top-level directories (kernel, class,
// fs/cgroup) so lookups there answer ENOENT below them rather than at /sys. Built once at mount time and mounted
// read-only. Not done: devices, buses, classes, cgroupfs.
import * as os from 'node:os';
import { Tmpfs, TmpfsDir, TmpfsFile } from './tmpfs.js';

const owner = { uid: 0, gid: 0 };

function dir(parent: TmpfsDir, name: string): TmpfsDir {
  return parent.insert(name, new TmpfsDir(parent.fs, { mode: 0o755, ...owner }, parent)) as TmpfsDir;
}

function file(parent: TmpfsDir, name: string, text: string): void {
  const f = new TmpfsFile(parent.fs, { mode: 0o444, ...owner });
  f.writeAt(Buffer.from(text), 0n);
  parent.insert(name, f);
}

export function createSysfs(): Tmpfs {
  const fs = new Tmpfs({ mode: 0o555 });
  Object.defineProperty(fs, 'type', { value: 'sysfs' });
  const root = fs.root();
  const n = os.cpus().length;
  const range = n > 1 ? `0-${n - 1}\n` : '0\n';
  const cpu = dir(dir(dir(root, 'devices'), 'system'), 'cpu');
  file(cpu, 'online', range);
  file(cpu, 'possible', range);
  file(cpu, 'present', range);
  file(cpu, 'kernel_max', '8191\n');
  for (let i = 0; i < n; i++) dir(cpu, `cpu${i}`);
  dir(root, 'kernel');
  dir(root, 'class');
  dir(dir(root, 'fs'), 'cgroup');
  return fs;
}
