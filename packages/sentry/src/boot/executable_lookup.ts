// Finds the container's init program the way runc does before exec: an args[0] without a "/" is looked up in
// the PATH of the process's env (execvp(3) semantics: the first directory holding a regular file with an execute
// bit), in the container's file system, not the host's.
import { isReg } from '../vfs/constants.js';
import type { MountNamespace } from '../vfs/mount.js';
import { resolve } from '../vfs/path_resolution.js';

/** execvp(3)'s default search path when PATH is unset. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BOOT_CREDS = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };

export class ExecutableNotFound extends Error {
  readonly code = 'ENOENT';
}

/** The absolute path to exec for `argv0`, or ExecutableNotFound with runc's wording. */
export async function lookupExecutable(mounts: MountNamespace, argv0: string, env: string[], cwd: string): Promise<string> {
  if (argv0 === '') throw new ExecutableNotFound('exec: empty program name');
  if (argv0.includes('/')) return argv0.startsWith('/') ? argv0 : `${cwd.replace(/\/$/, '')}/${argv0}`;
  const pathEntry = env.findLast((e) => e.startsWith('PATH='));
  const dirs = (pathEntry ? pathEntry.slice(5) : DEFAULT_PATH).split(':');
  const ctx = { root: mounts.rootLocation, creds: BOOT_CREDS };
  for (const dir of dirs) {
    // An empty PATH entry means the current directory (execvp(3)).
    const base = dir === '' ? cwd : dir;
    const candidate = `${base.replace(/\/$/, '')}/${argv0}`;
    try {
      const found = await resolve(ctx, mounts.rootLocation, candidate, { followFinal: true });
      const st = await found.dentry.node.stat();
      if (isReg(st.mode) && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not in this directory (or not reachable): try the next one.
    }
  }
  throw new ExecutableNotFound(`exec: "${argv0}": executable file not found in $PATH`);
}
