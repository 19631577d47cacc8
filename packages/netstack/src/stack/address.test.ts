import { describe, expect, it } from 'vitest';
import { Address, AddressWithPrefix, Subnet } from './address.js';
import { RouteTable } from './route_table.js';
import { PortManager } from './port_manager.js';

describe('Address', () => {
  it('parses and formats IPv4 and IPv6 (RFC 5952)', () => {
    expect(Address.parse('10.1.2.3').toString()).toBe('10.1.2.3');
    expect(Address.parse('2001:DB8:0:0:0:0:2:1').toString()).toBe('2001:db8::2:1');
    expect(Address.parse('::ffff:1.2.3.4').isV4Mapped()).toBe(true);
    expect(Address.parse('::ffff:1.2.3.4').unmapV4().toString()).toBe('1.2.3.4');
    expect(Address.parse('fe80::1').isLinkLocalUnicast()).toBe(true);
    expect(Address.tryParse('1.2.3')).toBeUndefined();
    expect(Address.tryParse('1::2::3')).toBeUndefined();
    expect(Address.tryParse('256.1.1.1')).toBeUndefined();
  });
  it('interns addresses read from packets', () => {
    const buf = Uint8Array.of(9, 9, 10, 0, 0, 1);
    const a = Address.intern(buf, 2, 4);
    expect(a.toString()).toBe('10.0.0.1');
    expect(Address.intern(buf, 2, 4)).toBe(a);
    const v6 = Address.parse('2001:db8::5').bytes;
    const b = Address.intern(v6, 0, 16);
    expect(Address.intern(Uint8Array.from(v6), 0, 16)).toBe(b);
    expect(b.equals(Address.parse('2001:db8::5'))).toBe(true);
  });
  it('masks subnets and tests containment', () => {
    const s = Subnet.parse('10.1.2.3/16');
    expect(s.toString()).toBe('10.1.0.0/16');
    expect(s.contains(Address.parse('10.1.255.1'))).toBe(true);
    expect(s.contains(Address.parse('10.2.0.1'))).toBe(false);
    expect(s.broadcast()?.toString()).toBe('10.1.255.255');
    const s6 = Subnet.parse('2001:db8:1::/48');
    expect(s6.contains(Address.parse('2001:db8:1:ffff::1'))).toBe(true);
    expect(s6.contains(Address.parse('2001:db8:2::1'))).toBe(false);
    expect(Subnet.parse('0.0.0.0/0').contains(Address.parse('8.8.8.8'))).toBe(true);
    expect(() => AddressWithPrefix.parse('10.0.0.1/33')).toThrow(/EINVAL/);
  });
});

describe('RouteTable', () => {
  it('picks the longest prefix, then the lowest metric', () => {
    const t = new RouteTable();
    t.add({ destination: Subnet.parse('0.0.0.0/0'), gateway: Address.parse('10.0.0.1'), nic: 1 });
    t.add({ destination: Subnet.parse('10.0.0.0/8'), nic: 2, metric: 10 });
    t.add({ destination: Subnet.parse('10.0.0.0/8'), nic: 3, metric: 5 });
    t.add({ destination: Subnet.parse('10.9.0.0/16'), nic: 4 });
    expect(t.lookup(Address.parse('8.8.8.8'))?.nic).toBe(1);
    expect(t.lookup(Address.parse('10.1.1.1'))?.nic).toBe(3);
    expect(t.lookup(Address.parse('10.9.1.1'))?.nic).toBe(4);
    expect(t.lookup(Address.parse('10.9.1.1'), 2)?.nic).toBe(2);
    expect(t.lookup(Address.parse('10.9.1.1'), 0, (n) => n !== 4)?.nic).toBe(3);
    expect(t.lookup(Address.parse('::1'))).toBeUndefined();
  });
});

describe('PortManager', () => {
  it('refuses conflicting binds and honours SO_REUSEADDR/SO_REUSEPORT', () => {
    const pm = new PortManager();
    const a = {}, b = {}, c = {};
    const base = { transport: 17, families: [4] as (4 | 6)[], address: undefined, port: 5000, nic: 0, reuseAddress: false, reusePort: false };
    expect(pm.reserve({ ...base, owner: a })).toBe(5000);
    expect(pm.reserve({ ...base, owner: b })).toMatchObject({ code: 'PortInUse' });
    // A different specific address on the same port conflicts with the wildcard one.
    expect(pm.reserve({ ...base, address: Address.parse('10.0.0.1'), owner: b })).toMatchObject({ code: 'PortInUse' });
    // IPv6-only socket does not conflict with an IPv4 one.
    expect(pm.reserve({ ...base, families: [6], owner: b })).toBe(5000);
    pm.release(17, 5000, a);
    pm.release(17, 5000, b);
    expect(pm.reserve({ ...base, reusePort: true, owner: a })).toBe(5000);
    expect(pm.reserve({ ...base, reusePort: true, owner: b })).toBe(5000);
    expect(pm.reserve({ ...base, owner: c })).toMatchObject({ code: 'PortInUse' });
    const eph = pm.reserve({ ...base, port: 0, owner: c });
    expect(typeof eph === 'number' && eph >= 32768 && eph <= 60999).toBe(true);
  });
});
