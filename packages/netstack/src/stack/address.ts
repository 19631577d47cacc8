// IPv4/IPv6 addresses as immutable values. Received packets look addresses up through `Address.intern`, which
// returns the same object for the same bytes without allocating on a hit, so demultiplexing and per-socket source
// addresses cost no garbage on the hot path.

export type AddressFamily = 4 | 6;

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17, IPV6_FRAGMENT: 44, ICMPV6: 58, RAW: 255 } as const;
/** EtherTypes (IEEE 802 numbers) used to select the network protocol of a frame. */
export const EtherType = { IPV4: 0x0800, ARP: 0x0806, IPV6: 0x86dd } as const;

const INTERN_LIMIT = 4096;
const internV4 = new Map<number, Address>();
const internV6 = new Map<number, Address>();

export class Address {
  readonly bytes: Uint8Array;
  /** IPv4 only: the address as an unsigned 32-bit integer (0 for IPv6). */
  readonly v4: number;
  private text: string | undefined;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.v4 = bytes.length === 4 ? ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0 : 0;
  }

  get family(): AddressFamily {
    return this.bytes.length === 4 ? 4 : 6;
  }
  get length(): number {
    return this.bytes.length;
  }

  static fromBytes(bytes: Uint8Array): Address {
    if (bytes.length !== 4 && bytes.length !== 16) {
      throw new RangeError(`EINVAL: an IP address has 4 or 16 bytes, got ${bytes.length}`);
    }
    return new Address(Uint8Array.from(bytes));
  }

  static fromV4(n: number): Address {
    const b = new Uint8Array(4);
    b[0] = n >>> 24;
    b[1] = n >>> 16;
    b[2] = n >>> 8;
    b[3] = n;
    return new Address(b);
  }

  /** Parses dotted-quad IPv4 or RFC 4291 section 2.2 IPv6 text (with `::` and an embedded IPv4 tail). */
  static parse(text: string): Address {
    const a = Address.tryParse(text);
    if (!a) throw new RangeError(`EINVAL: not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
    return a;
  }

  static tryParse(text: string): Address | undefined {
    if (text.includes(':')) return parseV6(text);
    const v4 = parseV4(text);
    return v4 === undefined ? undefined : Address.fromV4(v4);
  }

  /**
   * The interned Address for `len` bytes at `buf[off]`. Allocation-free when the address was seen recently.
   * The cache is bounded; a full cache is cleared rather than grown (addresses are values: a stale object is fine).
   */
  static intern(buf: Uint8Array, off: number, len: 4 | 16): Address {
    if (len === 4) {
      const n = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
      let a = internV4.get(n);
      if (a === undefined) {
        if (internV4.size >= INTERN_LIMIT) internV4.clear();
        a = Address.fromV4(n);
        internV4.set(n, a);
      }
      return a;
    }
    let h = 0x811c9dc5;
    for (let i = 0; i < 16; i++) h = Math.imul(h ^ buf[off + i]!, 0x01000193);
    const hit = internV6.get(h);
    if (hit !== undefined && hit.equalsBytes(buf, off)) return hit;
    if (internV6.size >= INTERN_LIMIT) internV6.clear();
    const a = new Address(buf.slice(off, off + 16));
    internV6.set(h, a);
    return a;
  }

  equals(o: Address | undefined): boolean {
    if (o === this) return true;
    if (o === undefined || o.bytes.length !== this.bytes.length) return false;
    if (this.bytes.length === 4) return o.v4 === this.v4;
    for (let i = 0; i < 16; i++) if (o.bytes[i] !== this.bytes[i]) return false;
    return true;
  }

  /** Whether the `length` bytes at buf[off] equal this address. */
  equalsBytes(buf: Uint8Array, off: number): boolean {
    const b = this.bytes;
    for (let i = 0; i < b.length; i++) if (buf[off + i] !== b[i]) return false;
    return true;
  }

  /** 32-bit hash for demultiplexing tables. */
  hash(): number {
    if (this.bytes.length === 4) return this.v4 | 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < 16; i++) h = Math.imul(h ^ this.bytes[i]!, 0x01000193);
    return h | 0;
  }

  isUnspecified(): boolean {
    for (const x of this.bytes) if (x !== 0) return false;
    return true;
  }
  isLoopback(): boolean {
    if (this.bytes.length === 4) return this.bytes[0] === 127;
    return this.equals(IPV6_LOOPBACK);
  }
  isMulticast(): boolean {
    return this.bytes.length === 4 ? (this.bytes[0]! & 0xf0) === 0xe0 : this.bytes[0] === 0xff;
  }
  /** IPv4 limited broadcast 255.255.255.255. */
  isLimitedBroadcast(): boolean {
    return this.bytes.length === 4 && this.v4 === 0xffffffff;
  }
  /** fe80::/10 (RFC 4291 section 2.5.6). */
  isLinkLocalUnicast(): boolean {
    return this.bytes.length === 4
      ? this.bytes[0] === 169 && this.bytes[1] === 254
      : this.bytes[0] === 0xfe && (this.bytes[1]! & 0xc0) === 0x80;
  }

  /** IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2). */
  isV4Mapped(): boolean {
    if (this.bytes.length !== 16) return false;
    for (let i = 0; i < 10; i++) if (this.bytes[i] !== 0) return false;
    return this.bytes[10] === 0xff && this.bytes[11] === 0xff;
  }
  /** For ::ffff:a.b.c.d, the IPv4 address a.b.c.d. */
  unmapV4(): Address {
    return Address.fromBytes(this.bytes.subarray(12, 16));
  }
  mapToV6(): Address {
    if (this.bytes.length === 16) return this;
    const b = new Uint8Array(16);
    b[10] = 0xff;
    b[11] = 0xff;
    b.set(this.bytes, 12);
    return new Address(b);
  }

  toString(): string {
    if (this.text === undefined) this.text = this.bytes.length === 4 ? this.bytes.join('.') : formatV6(this.bytes);
    return this.text;
  }
}

function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function parseV6(text: string): Address | undefined {
  const pct = text.indexOf('%');
  if (pct >= 0) text = text.slice(0, pct); // zone ids are not part of the address
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const b = new Uint8Array(16);
  all.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return Address.fromBytes(b);
}

/** RFC 5952 canonical text: lower case, longest run (>= 2) of zero groups as `::`. */
function formatV6(b: Uint8Array): string {
  // RFC 5952 section 5: IPv4-mapped addresses end in dotted-quad form.
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b.subarray(12).join('.')}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export const IPV4_ANY = Address.parse('0.0.0.0');
export const IPV4_BROADCAST = Address.parse('255.255.255.255');
export const IPV4_LOOPBACK = Address.parse('127.0.0.1');
export const IPV6_ANY = Address.parse('::');
export const IPV6_LOOPBACK = Address.parse('::1');
/** ff02::1, all nodes on the link (RFC 4291 section 2.7.1). */
export const IPV6_ALL_NODES = Address.parse('ff02::1');
export const IPV6_ALL_ROUTERS = Address.parse('ff02::2');

/** An address with a prefix length, as assigned to an interface (`10.0.0.1/24`). */
export class AddressWithPrefix {
  constructor(
    readonly address: Address,
    readonly prefixLength: number,
  ) {
    if (prefixLength < 0 || prefixLength > address.length * 8 || !Number.isInteger(prefixLength)) {
      throw new RangeError(`EINVAL: prefix length ${prefixLength} out of range for ${address}`);
    }
  }
  static parse(text: string): AddressWithPrefix {
    const [a, p] = text.split('/');
    const addr = Address.parse(a!);
    return new AddressWithPrefix(addr, p === undefined ? addr.length * 8 : Number(p));
  }
  subnet(): Subnet {
    return new Subnet(this.address, this.prefixLength);
  }
  toString(): string {
    return `${this.address}/${this.prefixLength}`;
  }
}

/** A network prefix: the address bits beyond prefixLength are zero. */
export class Subnet {
  readonly address: Address;
  constructor(
    address: Address,
    readonly prefixLength: number,
  ) {
    const b = Uint8Array.from(address.bytes);
    for (let i = 0; i < b.length; i++) {
      const keep = Math.max(0, Math.min(8, prefixLength - 8 * i));
      b[i]! &= (0xff00 >> keep) & 0xff;
    }
    this.address = Address.fromBytes(b);
  }
  static parse(text: string): Subnet {
    return AddressWithPrefix.parse(text).subnet();
  }
  get family(): AddressFamily {
    return this.address.family;
  }
  contains(a: Address): boolean {
    if (a.length !== this.address.length) return false;
    const n = this.prefixLength;
    if (a.length === 4) {
      if (n === 0) return true;
      const mask = n === 32 ? 0xffffffff : ~(0xffffffff >>> n) >>> 0;
      return ((a.v4 & mask) >>> 0) === this.address.v4;
    }
    const x = a.bytes;
    const y = this.address.bytes;
    for (let i = 0; i < 16; i++) {
      const keep = Math.max(0, Math.min(8, n - 8 * i));
      if (keep === 0) break;
      const m = (0xff00 >> keep) & 0xff;
      if ((x[i]! & m) !== y[i]) return false;
    }
    return true;
  }
  /** IPv4 directed broadcast address of the subnet (all host bits set), for prefixes shorter than /31. */
  broadcast(): Address | undefined {
    if (this.address.length !== 4 || this.prefixLength >= 31) return undefined;
    return Address.fromV4((this.address.v4 | (0xffffffff >>> this.prefixLength)) >>> 0);
  }
  toString(): string {
    return `${this.address}/${this.prefixLength}`;
  }
}

/** A transport address: IP address, port, and optionally the NIC it is scoped to (0: any). */
export interface FullAddress {
  address: Address;
  port: number;
  nic?: number;
}

/** 6-byte Ethernet (link) address; the empty array means "no link address" (loopback, point-to-point). */
export type LinkAddress = Uint8Array;

export function formatLinkAddress(a: LinkAddress): string {
  return Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(':');
}
export function parseLinkAddress(text: string): LinkAddress {
  const parts = text.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new RangeError(`EINVAL: not a MAC address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
