// Character devices by number. A device node on any file system (devfs is a tmpfs with nodes in it; an image's
// own /dev/null over the gofer) opens through this registry, as Linux looks up a chrdev by major:minor.
import type { FileDescriptionImpl, OpenOptions } from './filesystem.js';

export type DeviceOpener = (opts: OpenOptions) => Promise<FileDescriptionImpl> | FileDescriptionImpl;

/** Linux's new_encode_dev: the rdev value of major:minor as stat reports it. */
export function makeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export function devMajor(rdev: number): number {
  return (rdev >>> 8) & 0xfff;
}

export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}

export class DeviceRegistry {
  private readonly chr = new Map<number, DeviceOpener>();

  registerChar(major: number, minor: number, open: DeviceOpener): void {
    this.chr.set(makeDev(major, minor), open);
  }

  char(rdev: number): DeviceOpener | undefined {
    return this.chr.get(rdev);
  }
}

/** The sandbox's one registry (devices are global in a kernel). */
export const devices = new DeviceRegistry();
