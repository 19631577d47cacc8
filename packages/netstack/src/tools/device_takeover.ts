// Takes a host network device over for netstack, as runsc does inside a sandbox's network namespace (design.md
// "Netstack"): read its MAC, MTU, addresses and routes, then remove the addresses from the host kernel so that
// only netstack answers for them (otherwise the kernel would also reply to ARP, ping and TCP SYNs arriving on the
// device). The device itself stays up, and the peer side of a veth keeps working unchanged.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readHostDevice, readHostDevices, readHostRoutes, type HostDevice, type HostRoute } from '../link/host_netdev.js';
import { Address, AddressWithPrefix, Subnet } from '../stack/address.js';
import type { RouteEntry } from '../stack/route_table.js';

export interface DeviceConfig {
  device: HostDevice;
  addresses: AddressWithPrefix[];
  routes: HostRoute[];
}

/** The device to serve: the named one, or the first Ethernet device that is up (never lo). */
export function chooseDevice(name: string | undefined): HostDevice {
  if (name) return readHostDevice(name);
  const dev = readHostDevices().find((d) => d.linkType === 'ether' && d.up);
  if (!dev) {
    throw Object.assign(new Error('ENODEV: no Ethernet device that is up in this network namespace; pass --device'), { code: 'ENODEV' });
  }
  return dev;
}

export function readDeviceConfig(device: HostDevice): DeviceConfig {
  const addresses = device.addresses
    .filter((a) => a.scope !== 'host')
    .map((a) => new AddressWithPrefix(Address.fromBytes(a.address), a.prefixLength));
  const routes = readHostRoutes().filter((r) => r.device === device.name);
  return { device, addresses, routes };
}

/** Host routes of the device as netstack route entries (multicast routes are implicit in netstack). */
export function routeEntries(cfg: DeviceConfig, nic: number): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const r of cfg.routes) {
    const dst = new Subnet(Address.fromBytes(r.destination), r.prefixLength);
    if (dst.address.isMulticast()) continue;
    out.push({
      destination: dst,
      gateway: r.gateway ? Address.fromBytes(r.gateway) : undefined,
      nic,
      metric: r.metric,
      source: r.source ? Address.fromBytes(r.source) : undefined,
    });
  }
  return out;
}

/**
 * Removes the device's addresses from the host kernel and stops its IPv6 processing on the device, so that
 * frames for those addresses reach only netstack (through the AF_PACKET socket).
 */
export function releaseFromKernel(device: HostDevice): void {
  execFileSync('ip', ['addr', 'flush', 'dev', device.name], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${device.name}/disable_ipv6`, '1');
  } catch {
    // IPv6 disabled in this kernel: nothing to stop.
  }
}
