// Host file-descriptor plumbing Node lacks: socketpairs, memfds, SCM_RIGHTS passing (unix(7)), dup and FD_CLOEXEC.
// Every fd returned here has FD_CLOEXEC set, so nothing leaks into child processes unless clearCloexec is called.
import { addon } from './index.js';

interface FdAddon {
  socketpair(): [number, number];
  memfdCreate(name: string, flags?: number): number;
  closeFd(fd: number): void;
  sendFds(sock: number, fds: number[], data?: Uint8Array): number;
  recvFds(sock: number, maxFds: number, maxBytes?: number): ReceivedFds;
  dupFd(fd: number, min?: number, cloexec?: boolean): number;
  clearCloexec(fd: number): void;
  setCloexec(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
}

/** What one recvmsg returned: passed descriptors (FD_CLOEXEC set), the data bytes (empty at end of stream). */
export interface ReceivedFds {
  fds: number[];
  data: Buffer;
  /** True if the kernel dropped descriptors because maxFds was too small (MSG_CTRUNC). */
  truncated: boolean;
}

// index.ts loads the addon and re-exports this module, so the binding is read at call time, not at import
// time (the import cycle would otherwise see it uninitialised).
const fdAddon = new Proxy({} as FdAddon, { get: (_t, key) => (addon as unknown as Record<string | symbol, unknown>)[key] });

/** memfd_create(2) flags. */
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;

/** A connected AF_UNIX SOCK_STREAM pair, both ends close-on-exec. */
export function socketpair(): [number, number] {
  return fdAddon.socketpair();
}

/** An anonymous memory file (memfd_create(2)); MFD_CLOEXEC unless other flags are given. */
export function memfdCreate(name: string, flags: number = MFD_CLOEXEC): number {
  return fdAddon.memfdCreate(name, flags);
}

export function closeFd(fd: number): void {
  fdAddon.closeFd(fd);
}

/**
 * Sends `fds` with SCM_RIGHTS plus `data` (one zero byte if absent: a stream socket drops messages with no data).
 * Blocks if the socket is blocking and full. Returns the number of data bytes sent.
 */
export function sendFds(sock: number, fds: number[], data?: Uint8Array): number {
  return fdAddon.sendFds(sock, fds, data);
}

/** Receives one message with up to `maxFds` descriptors (blocking unless the socket is non-blocking). */
export function recvFds(sock: number, maxFds: number, maxBytes = 4096): ReceivedFds {
  return fdAddon.recvFds(sock, maxFds, maxBytes);
}

/** fcntl(F_DUPFD_CLOEXEC): the lowest free fd >= min (or F_DUPFD without close-on-exec if cloexec is false). */
export function dupFd(fd: number, min = 0, cloexec = true): number {
  return fdAddon.dupFd(fd, min, cloexec);
}

/** Clears FD_CLOEXEC so the fd survives an exec (for handing an fd to a child process). */
export function clearCloexec(fd: number): void {
  fdAddon.clearCloexec(fd);
}

export function setCloexec(fd: number): void {
  fdAddon.setCloexec(fd);
}

export function setNonBlocking(fd: number, on: boolean): void {
  fdAddon.setNonBlocking(fd, on);
}
