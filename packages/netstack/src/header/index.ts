// Packet header views and checksums (the `header` layer): everything here reads and writes bytes in place.
export * from './view.js';
export * from './address_text.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './icmpv4.js';
export * from './icmpv6.js';
export * from './udp.js';
export * from './tcp.js';
