// Takes a host network device over for netstack, as runsc does inside a sandbox's network namespace (design.md
// "Netstack"): read its MAC, MTU, addresses and routes, then remove the addresses from the host kernel so that
// only netstack answers for them (otherwise the kernel would also reply to ARP, ping and TCP SYNs arriving on the
// device). The device itself stays up, and the peer side of a veth keeps working unchanged.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { FdBasedEndpoint } from '../link/fdbased.js';
import { readHostDevice, readHostDevices, readHostRoutes, type HostDevice, type HostRoute } from '../link/host_netdev.js';
import { LoopbackEndpoint } from '../link/loopback.js';
import type { LinkEndpoint } from '../link/link_endpoint.js';
import { FifoQdisc } from '../link/qdisc.js';
import { WorkerQdisc } from '../link/worker_qdisc.js';
import { Address, AddressWithPrefix, Subnet } from '../stack/address.js';
import type { RouteEntry } from '../stack/route_table.js';
import type { Stack } from '../stack/stack.js';

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

/**
 * Gives the device's addresses and routes back to the host kernel (the tool does this when it exits, so the
 * namespace works as before). Best effort: an address or route the kernel refuses is reported, not fatal.
 */
export function restoreToKernel(cfg: DeviceConfig): string[] {
  const problems: string[] = [];
  const name = cfg.device.name;
  const run = (args: string[]) => {
    try {
      execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      problems.push(`ip ${args.join(' ')}: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '0');
  } catch {
    // no IPv6 in this kernel
  }
  for (const a of cfg.addresses) {
    // Link-local IPv6 addresses come back by themselves when IPv6 is re-enabled.
    if (a.address.family === 6 && a.address.isLinkLocalUnicast()) continue;
    run(['addr', 'replace', a.toString(), 'dev', name, ...(a.address.family === 6 ? ['nodad'] : [])]);
  }
  for (const r of cfg.routes) {
    const dst = new Subnet(Address.fromBytes(r.destination), r.prefixLength);
    if (dst.address.isMulticast()) continue;
    const args = [r.family === 6 ? '-6' : '-4', 'route', 'replace', r.prefixLength === 0 ? 'default' : dst.toString()];
    if (r.gateway) args.push('via', Address.fromBytes(r.gateway).toString());
    args.push('dev', name);
    if (r.metric) args.push('metric', String(r.metric));
    run(args);
  }
  return problems;
}

/**
 * Adds the loopback interface as NIC 1 named "lo" with 127.0.0.1/8 and ::1/128, like a fresh network namespace
 * (the whole of --network=none). Returns the NIC id.
 */
export function addLoopbackNIC(stack: Stack, id = 1): number {
  const check = (what: string, e: { message: string; code: string } | undefined) => {
    if (e) throw Object.assign(new Error(`${what}: ${e.message}`), { code: e.code });
  };
  check('loopback NIC', stack.createNIC(id, new LoopbackEndpoint(), { name: 'lo' }));
  check('127.0.0.1/8', stack.addAddress(id, '127.0.0.1/8'));
  check('::1/128', stack.addAddress(id, '::1/128'));
  return id;
}

/** What takeOverHostNetwork configured. */
export interface HostNetworkTakeover {
  loopbackNic: number;
  /** NIC id per device name, with its link endpoint (for statistics and closing). */
  devices: {
    name: string; nic: number; link: FdBasedEndpoint; config: DeviceConfig;
    /** What the NIC sends through: `link` itself, a FifoQdisc or a WorkerQdisc in front of it (for its stats). */
    egress: LinkEndpoint;
  }[];
}

/**
 * The egress stage in front of each device's link: false, none (the stack's writes go straight to sendmmsg);
 * true or 'inline' (the default), a FifoQdisc on the stack's thread batching each turn's writes into one sendmmsg;
 * 'worker', a WorkerQdisc whose sendmmsg runs on a thread of its own (link/worker_qdisc.ts has the measurements).
 */
export type QdiscChoice = boolean | 'inline' | 'worker';

function checkQdiscChoice(qdisc: unknown): void {
  if (qdisc === undefined || typeof qdisc === 'boolean' || qdisc === 'inline' || qdisc === 'worker') return;
  throw Object.assign(new Error(`EINVAL: qdisc must be true, false, 'inline' or 'worker', got ${String(qdisc)}`), { code: 'EINVAL' });
}

function egressFor(link: FdBasedEndpoint, qdisc: QdiscChoice | undefined): LinkEndpoint {
  if (qdisc === false) return link;
  if (qdisc === 'worker') return new WorkerQdisc(link);
  return new FifoQdisc(link);
}

/**
 * Configures `stack` like the current network namespace: a loopback NIC (127.0.0.1/8, ::1/128) and, for each
 * Ethernet device that is up (or the ones named), an fdbased NIC with the device's addresses and routes, which are
 * then removed from the host kernel (releaseFromKernel). This is what the sentry does at start and what
 * `netstack serve` does for one device.
 */
export function takeOverHostNetwork(
  stack: Stack,
  opts: { devices?: string[]; gso?: boolean; keepAddresses?: boolean; qdisc?: QdiscChoice } = {},
): HostNetworkTakeover {
  const chosen = opts.devices?.length ? opts.devices.map((n) => chooseDevice(n)) : readHostDevices().filter((d) => d.linkType === 'ether' && d.up);
  const fail = (what: string, e: { message: string; code: string } | undefined) => {
    if (e) throw Object.assign(new Error(`${what}: ${e.message}`), { code: e.code });
  };
  // A bad choice fails before anything is touched.
  checkQdiscChoice(opts.qdisc);
  const loopbackNic = addLoopbackNIC(stack);
  const out: HostNetworkTakeover = { loopbackNic, devices: [] };
  for (const device of chosen) {
    const config = readDeviceConfig(device);
    const link = FdBasedEndpoint.open({ ifname: device.name, gso: opts.gso ?? true, mtu: device.mtu, linkAddress: device.mac });
    // Outgoing frames go through a qdisc (unless turned off) so a burst written in one turn leaves in one sendmmsg.
    // Made (and the NIC created) before the addresses are taken from the kernel: a worker that cannot start, or a
    // NIC the stack refuses, leaves the device as it was.
    let egress: LinkEndpoint;
    try {
      egress = egressFor(link, opts.qdisc);
    } catch (e) {
      link.close();
      throw e;
    }
    // NIC ids are the namespace's interface indexes (lo is always 1), so the application sees the same
    // if_nametoindex(3) values inside the sandbox as the host namespace had.
    const nic = device.ifindex;
    const refused = stack.createNIC(nic, egress, { name: device.name });
    if (refused) {
      // The stack did not take the link: close it here (a WorkerQdisc's thread and socket descriptor would
      // otherwise stay behind), and leave the kernel's addresses alone (released only once the NIC exists).
      egress.close();
      fail(`NIC for ${device.name}`, refused);
    }
    if (!opts.keepAddresses) releaseFromKernel(device);
    for (const a of config.addresses) fail(`address ${a} on ${device.name}`, stack.addAddress(nic, a, { noPrefixRoute: true }));
    for (const r of routeEntries(config, nic)) stack.addRoute(r);
    out.devices.push({ name: device.name, nic, link, config, egress });
  }
  return out;
}
