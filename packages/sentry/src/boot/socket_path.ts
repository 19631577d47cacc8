// Unix socket paths are limited to 107 bytes (unix(7): sun_path is 108 bytes with its NUL), and a container's
// control socket lives under the caller's state root: Docker's (/var/run/docker/runtime-<name>/moby/<64-hex id>)
// already overflows it. A longer path is reached through a directory fd instead: /proc/self/fd/<dirfd>/<name>
// resolves to the same file, and is short. Both the sentry (bind) and runsc (connect) go through here.
import fs from 'node:fs';
import path from 'node:path';

const SUN_PATH_MAX = 107;

export interface UsableSocketPath {
  /** A path short enough for bind(2)/connect(2) that names the socket. */
  path: string;
  /** Releases the directory fd, if one was opened (call once bind or connect has happened). */
  release(): void;
}

export function usableSocketPath(socketPath: string): UsableSocketPath {
  if (Buffer.byteLength(socketPath) <= SUN_PATH_MAX) return { path: socketPath, release: () => {} };
  const dirFd = fs.openSync(path.dirname(socketPath), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const short = `/proc/self/fd/${dirFd}/${path.basename(socketPath)}`;
  if (Buffer.byteLength(short) > SUN_PATH_MAX) {
    fs.closeSync(dirFd);
    throw new Error(`socket name ${path.basename(socketPath)} is too long`);
  }
  let released = false;
  return {
    path: short,
    release() {
      if (!released) fs.closeSync(dirFd);
      released = true;
    },
  };
}
