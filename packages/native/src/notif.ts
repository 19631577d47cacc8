// seccomp user notification (seccomp_unotify(2)) on a filter's listener fd (see notif.c).
import { addon } from './index.js';

/** Opaque handle of a listener watched by the event loop. */
export type NotifWatch = { readonly __notifWatch: unique symbol };

interface NotifAddon {
  notifRecv(fd: number, out: Uint8Array, spinNs?: number): boolean;
  notifSend(fd: number, id: bigint, val: bigint, error: number, flags: number): number;
  notifIdValid(fd: number, id: bigint): boolean;
  notifAddFd(fd: number, id: bigint, srcFd: number, targetFd: number, cloexec: boolean, send: boolean): number;
  notifWatch(fd: number, callback: (status: number) => void): NotifWatch;
  notifUnwatch(handle: NotifWatch): void;
}
// index.ts loads the addon and re-exports this module, so the binding is read at call time, not at import
// time (the import cycle would otherwise see it uninitialised).
const n = new Proxy({} as NotifAddon, { get: (_t, key) => (addon as unknown as Record<string | symbol, unknown>)[key] });

/** sizeof(struct seccomp_notif). */
export const SECCOMP_NOTIF_SIZE = 80;
/** seccomp_notif_resp.flags: let the call run on the host. Never for calls with pointer arguments (design.md). */
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

/** One notification, decoded from struct seccomp_notif. */
export interface SeccompNotification {
  id: bigint;
  /** Host tid of the calling thread (as the sentry's pid namespace sees it). */
  pid: number;
  nr: number;
  arch: number;
  instructionPointer: bigint;
  args: [bigint, bigint, bigint, bigint, bigint, bigint];
}

/** A reusable receive buffer that decodes struct seccomp_notif without per-field allocation. */
export class NotificationBuffer {
  readonly buf = Buffer.alloc(SECCOMP_NOTIF_SIZE);
  /** Receives one notification if pending (or arriving within `spinNs`); null if none. */
  recv(fd: number, spinNs = 0): SeccompNotification | null {
    if (!n.notifRecv(fd, this.buf, spinNs)) return null;
    const b = this.buf;
    return {
      id: b.readBigUInt64LE(0),
      pid: b.readUInt32LE(8),
      nr: b.readInt32LE(16),
      arch: b.readUInt32LE(20),
      instructionPointer: b.readBigUInt64LE(24),
      args: [
        b.readBigUInt64LE(32),
        b.readBigUInt64LE(40),
        b.readBigUInt64LE(48),
        b.readBigUInt64LE(56),
        b.readBigUInt64LE(64),
        b.readBigUInt64LE(72),
      ],
    };
  }
}

/** Answers a notification: `val` is the return value when `error` is 0; `error` is a negative errno otherwise.
 * Returns 0, or ENOENT if the task no longer waits for this answer. */
export const notifSend = (fd: number, id: bigint, val: bigint, error: number, flags = 0): number =>
  n.notifSend(fd, id, val, error, flags);
export const notifIdValid = (fd: number, id: bigint): boolean => n.notifIdValid(fd, id);
/** Installs `srcFd` in the task (SECCOMP_IOCTL_NOTIF_ADDFD); targetFd -1 means lowest free. */
export const notifAddFd = (fd: number, id: bigint, srcFd: number, targetFd = -1, cloexec = false, send = false): number =>
  n.notifAddFd(fd, id, srcFd, targetFd, cloexec, send);
/** Calls `callback` on the main thread whenever the listener is readable; keeps the event loop alive. */
export const notifWatch = (fd: number, callback: (status: number) => void): NotifWatch => n.notifWatch(fd, callback);
export const notifUnwatch = (handle: NotifWatch): void => n.notifUnwatch(handle);
