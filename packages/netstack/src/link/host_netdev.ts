// The devices, addresses and routes of the current network namespace, read with iproute2's JSON output
// (`ip -j addr`, `ip -j route`; ip(8) -json). The sentry reads them at start to take over the container's veth
// (design.md "Netstack"); the standalone netstack tool uses them to configure itself like the host.
import { execFileSync } from 'node:child_process';
import { parseAddress, parseMac } from '../header/address_text.js';

export interface HostAddress {
  family: 4 | 6;
  address: Uint8Array;
  prefixLength: number;
  /** "global", "link", "host" (ip-address(8) scope). */
  scope: string;
}

export interface HostDevice {
  name: string;
  ifindex: number;
  /** 6-byte MAC for Ethernet devices, empty for loopback and devices without one. */
  mac: Uint8Array;
  mtu: number;
  /** "ether", "loopback", "none", ... (ip-link link/TYPE). */
  linkType: string;
  up: boolean;
  addresses: HostAddress[];
}

export interface HostRoute {
  family: 4 | 6;
  /** Destination network; prefixLength 0 for the default route. */
  destination: Uint8Array;
  prefixLength: number;
  gateway: Uint8Array | null;
  device: string;
  metric: number;
  /** Preferred source address, if the route names one. */
  source: Uint8Array | null;
  /** "global", "link", "host" (ip-route(8) scope). */
  scope: string;
}

/** Why the output of ip could not be used; carries the command for the log. */
export class HostNetdevError extends Error {
  readonly code = 'EHOSTNETDEV';
  constructor(message: string, readonly command: string) {
    super(`${message} (from \`${command}\`)`);
  }
}

/**
 * Which network namespace to read: the current one (undefined), a name under /var/run/netns (`ip -n NAME`), or a
 * path such as /proc/PID/ns/net from an OCI config (read through `nsenter --net=PATH`).
 */
export type NetnsSelector = string | undefined;

function runIpJson(args: string[], netns: NetnsSelector): unknown {
  let file = 'ip';
  let argv = args;
  if (netns !== undefined && netns.includes('/')) {
    file = 'nsenter';
    argv = [`--net=${netns}`, 'ip', ...args];
  } else if (netns !== undefined) {
    argv = ['-n', netns, ...args];
  }
  const command = `${file} ${argv.join(' ')}`;
  let out: string;
  try {
    out = execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new HostNetdevError(`ip failed: ${(e as Error).message}`, command);
  }
  try {
    return JSON.parse(out.trim() === '' ? '[]' : out);
  } catch {
    throw new HostNetdevError('ip printed invalid JSON', command);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses `ip -j addr show` output (exported for tests). Entries that lack required fields are an error. */
export function parseIpAddrJson(json: unknown, command = 'ip -j addr show'): HostDevice[] {
  if (!Array.isArray(json)) throw new HostNetdevError('expected a JSON array of devices', command);
  return json.map((d) => {
    if (!isRecord(d) || typeof d.ifname !== 'string' || typeof d.ifindex !== 'number' || typeof d.mtu !== 'number') {
      throw new HostNetdevError('device entry without ifname/ifindex/mtu', command);
    }
    const linkType = typeof d.link_type === 'string' ? d.link_type : 'none';
    const mac = linkType === 'ether' && typeof d.address === 'string' ? parseMac(d.address) : null;
    const flags = Array.isArray(d.flags) ? d.flags : [];
    const addresses: HostAddress[] = [];
    for (const a of Array.isArray(d.addr_info) ? d.addr_info : []) {
      if (!isRecord(a) || typeof a.local !== 'string' || typeof a.prefixlen !== 'number') continue;
      const bytes = parseAddress(a.local);
      if (!bytes) throw new HostNetdevError(`unparsable address ${a.local} on ${d.ifname}`, command);
      addresses.push({ family: bytes.length === 4 ? 4 : 6, address: bytes, prefixLength: a.prefixlen, scope: typeof a.scope === 'string' ? a.scope : 'global' });
    }
    return {
      name: d.ifname, ifindex: d.ifindex, mac: mac ?? new Uint8Array(0), mtu: d.mtu, linkType,
      up: flags.includes('UP'), addresses,
    };
  });
}

/** Parses `ip -j route show` output for one family (exported for tests). */
export function parseIpRouteJson(json: unknown, family: 4 | 6, command = 'ip -j route show'): HostRoute[] {
  if (!Array.isArray(json)) throw new HostNetdevError('expected a JSON array of routes', command);
  const routes: HostRoute[] = [];
  for (const r of json) {
    if (!isRecord(r) || typeof r.dst !== 'string' || typeof r.dev !== 'string') continue; // blackhole/unreachable: no dev
    if (typeof r.type === 'string' && r.type !== 'unicast') continue;
    let destination: Uint8Array | null;
    let prefixLength: number;
    if (r.dst === 'default') {
      destination = new Uint8Array(family === 4 ? 4 : 16);
      prefixLength = 0;
    } else {
      const [addr, len] = r.dst.split('/');
      destination = parseAddress(addr);
      prefixLength = len === undefined ? (family === 4 ? 32 : 128) : Number(len);
    }
    if (!destination || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > destination.length * 8) {
      throw new HostNetdevError(`unparsable route destination ${r.dst}`, command);
    }
    const gateway = typeof r.gateway === 'string' ? parseAddress(r.gateway) : null;
    const source = typeof r.prefsrc === 'string' ? parseAddress(r.prefsrc) : null;
    routes.push({
      family, destination, prefixLength, gateway, device: r.dev, source,
      metric: typeof r.metric === 'number' ? r.metric : 0,
      scope: typeof r.scope === 'string' ? r.scope : 'global',
    });
  }
  return routes;
}

/** Every device of the current network namespace with its addresses. */
export function readHostDevices(netns?: NetnsSelector): HostDevice[] {
  return parseIpAddrJson(runIpJson(['-j', 'addr', 'show'], netns));
}

/** One device by name; throws HostNetdevError if it does not exist. */
export function readHostDevice(name: string, netns?: NetnsSelector): HostDevice {
  const found = readHostDevices(netns).find((d) => d.name === name);
  if (!found) throw new HostNetdevError(`no device named ${name}`, 'ip -j addr show');
  return found;
}

/** The main-table unicast routes of both families. */
export function readHostRoutes(netns?: NetnsSelector): HostRoute[] {
  return [
    ...parseIpRouteJson(runIpJson(['-j', '-4', 'route', 'show', 'table', 'main'], netns), 4),
    ...parseIpRouteJson(runIpJson(['-j', '-6', 'route', 'show', 'table', 'main'], netns), 6),
  ];
}
