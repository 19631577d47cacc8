// The capabilities the gofer keeps once its mounts are made (confine.ts), on every thread: only what serving
// files for a client that acts as any user needs. Everything else, CAP_SYS_ADMIN (mount, pivot_root, setns) first,
// leaves the permitted, effective and bounding sets; nothing stays inheritable or ambient (capabilities(7)).
// This is the third wall, under the pivot (what can be named) and the seccomp filter (what can be called): a call
// that slipped through the filter would still lack the privilege.
import { Capability, capabilityMask, restrictThreadCapabilities, threadCapabilities } from '@tsvisor/native';

/** Kept capabilities and the gofer operations that need each (gofer.ts). */
export const GOFER_CAPABILITIES: Readonly<Record<string, { cap: number; why: string }>> = {
  CAP_CHOWN: { cap: Capability.CHOWN, why: 'created files get the client\'s uid/gid (lchown); Tsetattr uid/gid' },
  CAP_DAC_OVERRIDE: {
    cap: Capability.DAC_OVERRIDE,
    why: 'reads, writes and walks files whatever their mode: the sentry checks permissions for the application',
  },
  CAP_FOWNER: {
    cap: Capability.FOWNER,
    why: 'Tsetattr mode and times on files of any owner; hard links to them (protected_hardlinks); sticky dirs',
  },
  CAP_FSETID: { cap: Capability.FSETID, why: 'Tsetattr keeps S_ISGID on files whose group is not the gofer\'s (chmod(2))' },
};
// Not kept, on purpose:
// - CAP_DAC_READ_SEARCH: every check it passes, CAP_DAC_OVERRIDE passes too (read, and search on directories:
//   capabilities(7), the kernel's generic_permission); what it adds is open_by_handle_at(2), which opens any
//   file of a mounted file system by its handle, outside every mount and root: the classic container escape.
// - CAP_MKNOD: the gofer makes FIFOs and sockets only, which need no capability (mknod(2)); it refuses device nodes.
// - CAP_SYS_ADMIN, CAP_SYS_CHROOT: the mounts and the pivot are done before the drop.

/** The mask of GOFER_CAPABILITIES. */
export const GOFER_CAPABILITY_MASK: bigint = capabilityMask(...Object.values(GOFER_CAPABILITIES).map((c) => c.cap));

/**
 * Restricts every thread of the gofer to GOFER_CAPABILITY_MASK. `taskDirFd` is /proc/self/task opened before the
 * pivot (proc is not in the new root); the caller closes it. Returns the number of threads changed; throws if any
 * thread could not be restricted (the gofer must then not serve).
 */
export function dropGoferCapabilities(taskDirFd: number): { threads: number; changed: number } {
  const changed = restrictThreadCapabilities(taskDirFd, GOFER_CAPABILITY_MASK);
  return { threads: threadCapabilities(taskDirFd).length, changed };
}
