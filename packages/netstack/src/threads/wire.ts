// The contract between the stack's thread and its TCP worker threads (design.md "Netstack": threading).
//
// Who does what:
//   stack thread   links, ARP/NDP, IPv4/IPv6, ICMP, UDP, raw; for TCP it only hashes each received segment's flow
//                  and hands it to one worker (tcp_dispatcher.ts), writes the segments workers send through its
//                  routes, and gives applications RemoteTcpEndpoint proxies (the Endpoint API, unchanged).
//   TCP worker     a whole TcpProtocol (connections, timers, listeners, SYN cookies) over a ring-backed TcpHost
//                  (tcp_worker.ts). Every worker has a copy of every listener, as SO_REUSEPORT shards do.
//
// Two SharedFrameRings per worker carry everything, in order: TO_WORKER (stack thread produces) and TO_STACK
// (worker produces). The ring's `meta` word is the record type below; each record starts with a fixed header
// (little-endian, offsets below) followed by a payload. Neither side ever blocks on the other except the stack
// thread's synchronous control call (a worker answers it from its event loop; a worker never waits for the stack
// thread, so the wait cannot deadlock). A full ring is not an error: the producer keeps the record in a local
// queue and retries (frames may instead be dropped: TCP retransmits).
//
// Flow sharding: a segment goes to worker flowHash(remote, remotePort, local, localPort) % workers, where "remote"
// is the segment's source. A connection opened by the stack thread's connect() is created on the worker the same
// function picks for its 4-tuple, so every segment of a connection meets the same worker. When that worker has
// died, the flow goes to the live worker at flowHash % (live workers), in index order (TcpWorkerPool.workerFor).
//
// Byte streams (the socket buffers): the stack thread's RemoteTcpEndpoint keeps a receive queue fed by DATA
// records and sends WRITE records; both directions are credit-limited so neither ring nor queue grows without
// bound: the stack thread may have at most `sendCredit` bytes written but not yet taken by the worker's endpoint
// (the worker returns credit with SEND_CREDIT as its TcpEndpoint.write accepts bytes), and the worker sends DATA
// only while the bytes it sent and the stack thread has not yet read stay under `receiveCredit` (the stack thread
// returns credit with CONSUMED as the application reads). When the stack thread stops reading, the worker stops
// reading its TcpEndpoint, whose receive window then closes: backpressure reaches the peer.

import { Address, IPV4_ANY, IPV6_ANY, type FullAddress } from '../stack/address.js';
import { TcpipError, TcpipErrors } from '../stack/tcpip_error.js';

// ---- record types (SharedFrameRing meta)

/** Stack thread -> worker. */
export const ToWorker = {
  /** A received TCP segment: SEGMENT_HEADER, then the TCP header and payload. */
  SEGMENT: 1,
  /** An ICMP error quoting a TCP segment this stack sent: ICMP_ERROR_HEADER, then the quoted TCP bytes. */
  ICMP_ERROR: 2,
  /** A synchronous control request: CONTROL_HEADER, then UTF-8 JSON of a ControlRequest. */
  CONTROL: 3,
  /** Application bytes for an endpoint's send side: ENDPOINT_HEADER (u32 arg = WriteFlags), then the bytes. */
  WRITE: 4,
  /** The application read `arg` bytes of an endpoint's DATA: ENDPOINT_HEADER only (returns receive credit). */
  CONSUMED: 5,
  /** A new routing snapshot (addresses, routes, MTUs changed): UTF-8 JSON of a RouteSnapshot. */
  ROUTES: 6,
} as const;

/** Worker -> stack thread. */
export const ToStack = {
  /** A TCP segment to send: FRAME_HEADER, then the TCP header and payload (checksum as GsoFlags say). */
  FRAME: 1,
  /** Received bytes of an endpoint: ENDPOINT_HEADER (arg unused), then the bytes. */
  DATA: 2,
  /**
   * An endpoint's state changed: ENDPOINT_HEADER with arg = EndpointStateBits, then i32 errorCode (index into
   * ERROR_CODES of a pending asynchronous error (SO_ERROR), -1 for none) at offset 8. Sent after any DATA it
   * follows, so "end of stream" is seen only once every byte before it was delivered.
   * The other bits are levels (each STATE restates them all); the error is an event: the worker takes it from its
   * endpoint (the stack thread owns SO_ERROR from then on), sets ERROR and errorCode only in the one STATE that hands
   * it over, and a later STATE without ERROR leaves the stack thread's pending error as it is.
   */
  STATE: 3,
  /** The worker's endpoint took `arg` bytes of WRITE data (returns send credit). ENDPOINT_HEADER only. */
  SEND_CREDIT: 4,
  /**
   * A listener's copy on this worker accepted a connection: ENDPOINT_HEADER (id = the listener, arg = the new
   * endpoint's id on this worker), then ACCEPTED_TAIL (peer and local address) at offset 8.
   */
  ACCEPTED: 5,
} as const;

// ---- fixed headers (byte offsets within a record)

/** SEGMENT / FRAME / ICMP_ERROR address block: family (u8), then two 16-byte address slots (IPv4 uses 4 bytes). */
export const ADDRESS_SLOT = 16;

/**
 * SEGMENT: [0] u8 family, [1] u8 flags (SegmentFlags), [2] u8 ttl, [3] u8 tos, [4] u32 nic,
 * [8] source address (16), [24] destination address (16); TCP bytes from [40].
 */
export const SEGMENT_HEADER = 40;
export const SegmentFlags = {
  /** The link or the loopback path verified the TCP checksum already (PacketBuffer.checksumValidated). */
  CHECKSUM_VALIDATED: 1,
} as const;

/**
 * FRAME: [0] u8 family, [1] u8 flags (FrameFlags), [2] u8 ttl, [3] u8 tos, [4] u32 nic, [8] local address (16),
 * [24] remote address (16), [40] u8 gsoType (GsoType), [41] u8 unused, [42] u16 gsoSize; TCP bytes from [44].
 */
export const FRAME_HEADER = 44;
export const FrameFlags = {
  /** NetworkWriteParams.dontFragment. */
  DONT_FRAGMENT: 1,
  /** GsoInfo.needsChecksum: the TCP checksum field holds the pseudo-header sum only. */
  NEEDS_CHECKSUM: 2,
  /** A GsoInfo is present (gsoType/gsoSize meaningful even if type is NONE). */
  HAS_GSO: 4,
} as const;

/**
 * ICMP_ERROR: [0] u8 family, [1] u8 kind (index into TRANSPORT_ERROR_KINDS), [2] u8 icmpType, [3] u8 icmpCode,
 * [4] u32 nic, [8] u32 mtu, [12] reporter address (16), [28] quoted source = our local address (16),
 * [44] quoted destination = the remote (16); quoted TCP bytes from [60].
 */
export const ICMP_ERROR_HEADER = 60;
export const TRANSPORT_ERROR_KINDS = [
  'portUnreachable',
  'hostUnreachable',
  'networkUnreachable',
  'protocolUnreachable',
  'packetTooBig',
  'timeExceeded',
  'parameterProblem',
  'administrativelyProhibited',
] as const;

/**
 * Endpoint ids are per worker (a record names an endpoint of the worker whose ring carries it). The stack thread
 * allocates ids below WORKER_ID_BASE (a listener has the same id on every worker); a worker allocates the ids of
 * the connections its listener copies accept at WORKER_ID_BASE and above, so the two never collide.
 * CONSUMED on a listener's id returns accept credit: `arg` accepted connections were taken by the application
 * (a listener's copy forwards at most `backlog` ACCEPTED records not yet taken).
 */
export const WORKER_ID_BASE = 0x8000_0000;

/** WRITE / CONSUMED / DATA / STATE / SEND_CREDIT / ACCEPTED: [0] u32 endpoint id, [4] u32 arg. */
export const ENDPOINT_HEADER = 8;
/** STATE's error code follows the endpoint header. */
export const STATE_RECORD = 12;
/** ACCEPTED: after the endpoint header, [8] u8 family, [9..11] unused, [12] u16 peer port, [14] u16 local port,
 * [16] peer address (16), [32] local address (16). */
export const ACCEPTED_RECORD = 48;

export const WriteFlags = {
  /** MSG_MORE. */
  MORE: 1,
  /** The application called shutdown(SHUT_WR) or close() after these bytes: the worker sends FIN once they are out. */
  END: 2,
} as const;

/** STATE arg bits: what the worker's endpoint is (the stack thread derives poll readiness from these and its queues). */
export const EndpointStateBits = {
  /** Handshake done (ESTABLISHED or later): writes may go through. */
  CONNECTED: 1,
  /** A connect() is in progress. */
  CONNECTING: 2,
  /** No more data will arrive (FIN received, reset, or SHUT_RD): reads return end of stream once the queue is empty. */
  READ_CLOSED: 4,
  /** No more data can be sent (reset, timeout, SHUT_WR). */
  WRITE_CLOSED: 8,
  /** An asynchronous error is pending (errorCode in the record). */
  ERROR: 16,
  /**
   * The worker released the endpoint (fully closed); its id may be reused after this record. Sent once the endpoint
   * closed by 'close' reaches CLOSED, that is after TIME_WAIT (2*MSL, TcpSettings.timeWaitMs): until then the port
   * stays taken, as bind(2) and the ephemeral port choice on Linux see a TIME_WAIT socket. No record names the id
   * after it.
   */
  RELEASED: 32,
  /** A listener's copy has connections waiting in its accept queue (the worker sends ACCEPTED as credit allows). */
  LISTEN_READY: 64,
} as const;

// ---- synchronous control

/**
 * The reply block of a worker's control channel: a SharedArrayBuffer of REPLY_CONTROL_BYTES of Int32 slots, then
 * REPLY_CAPACITY bytes of UTF-8 JSON (a ControlReply). The stack thread writes a CONTROL record whose header is
 * [0] u32 request id, then Atomics.waits until slot REPLY_SEQ holds that id. The worker writes the reply bytes,
 * stores their length in REPLY_LENGTH, then Atomics.store(REPLY_SEQ, id) and Atomics.notify.
 */
export const CONTROL_HEADER = 4;
export const REPLY_CONTROL_BYTES = 16;
export const REPLY_SEQ = 0;
export const REPLY_LENGTH = 1;
/**
 * The worker adds 1 here every turn of its loop (at least every 50 ms while idle). The stack thread declares a
 * worker whose count stood still for the control timeout hung, and kills it: an endless loop on some input would
 * otherwise stall every connection of that worker silently, until the next control call to it. 0 means not started
 * yet (a control call's timeout covers a worker that never starts).
 */
export const REPLY_HEARTBEAT = 2;
/**
 * The worker thread stores 1 here as it exits, for any reason (an uncaught exception included), and wakes a
 * control call waiting on REPLY_SEQ: the stack thread, blocked in that call, cannot see the Worker's 'exit' event
 * until it returns, and would otherwise wait out the whole control timeout.
 */
export const REPLY_EXITED = 3;
export const REPLY_CAPACITY = 64 * 1024;

/** A socket address as JSON carries it. */
export interface WireFullAddress {
  /** Address text (Address.toString()), or absent for the unspecified address. */
  addr?: string;
  port: number;
  nic: number;
}

/** Integer and structured socket options to apply to a new worker endpoint, in the order they were set. */
export type WireOption =
  | { int: string; value: number }
  | { opt: Record<string, unknown> };

export type ControlRequest =
  /** Creates an endpoint with id `ep`, applies `options`, binds `local` if given (the stack thread reserved it). */
  | { op: 'create'; ep: number; family: 4 | 6; options: WireOption[]; local?: WireFullAddress }
  /** create + listen(backlog) on this worker (each worker holds a copy of the listener). */
  | { op: 'listen'; ep: number; backlog: number }
  /** connect() of an endpoint created on this worker (its local port already chosen by the stack thread). */
  | { op: 'connect'; ep: number; remote: WireFullAddress }
  | { op: 'shutdown'; ep: number; flags: number }
  /**
   * close(2), at once: every byte WRITE delivered goes into the endpoint's send buffer (grown past its size for the
   * staged ones), then TcpEndpoint.close (linger, reset per options); DATA not reported read (CONSUMED) resets.
   */
  | { op: 'close'; ep: number }
  /** connect(AF_UNSPEC) on a stream: abort. */
  | { op: 'abort'; ep: number }
  | { op: 'setInt'; ep: number; name: string; value: number }
  | { op: 'getInt'; ep: number; name: string }
  | { op: 'set'; ep: number; opt: Record<string, unknown> }
  | { op: 'get'; ep: number; kind: string }
  /** The endpoint's local and remote addresses. */
  | { op: 'addresses'; ep: number }
  /** The worker's TcpProtocol.stats. */
  | { op: 'stats' };

export type ControlReply =
  /** `error`: an ERROR_CODES name; `value`: the op's result (getInt number, get object, addresses, stats). */
  | { ok: true; value?: unknown }
  | { ok: false; error: string };

// ---- what a worker is started with (workerData)

export interface RouteSnapshotNic {
  id: number;
  mtu: number;
  /** Link + network header room TCP reserves (Route.maxHeaderLength without the transport). */
  linkHeaderLength: number;
  /** 0 without GSO. */
  gsoMaxSize: number;
  addresses: string[];
}

export interface RouteSnapshotRoute {
  /** Subnet text, e.g. "10.0.0.0/24" or "::/0". */
  destination: string;
  nic: number;
  gateway?: string;
}

/** What a worker needs to pick routes itself (it cannot ask the stack thread synchronously). */
export interface RouteSnapshot {
  nics: RouteSnapshotNic[];
  routes: RouteSnapshotRoute[];
}

export interface TcpWorkerData {
  index: number;
  workers: number;
  toWorker: SharedArrayBuffer;
  toStack: SharedArrayBuffer;
  reply: SharedArrayBuffer;
  routes: RouteSnapshot;
  /** Partial<TcpSettings> (plain data). */
  tcp: Record<string, unknown>;
  /** Initial credits in bytes. */
  sendCredit: number;
  receiveCredit: number;
}

// ---- codecs shared by both sides

/** FNV-1a over the 4-tuple, then mixBits; both threads must agree, so this is the only implementation. */
export function flowHash(remote: Address, remotePort: number, local: Address, localPort: number): number {
  let h = 0x811c9dc5;
  const rb = remote.bytes;
  for (let i = 0; i < rb.length; i++) h = Math.imul(h ^ rb[i]!, 0x01000193);
  const lb = local.bytes;
  for (let i = 0; i < lb.length; i++) h = Math.imul(h ^ lb[i]!, 0x01000193);
  h = Math.imul(h ^ (remotePort & 0xff), 0x01000193);
  h = Math.imul(h ^ (remotePort >>> 8), 0x01000193);
  h = Math.imul(h ^ (localPort & 0xff), 0x01000193);
  h = Math.imul(h ^ (localPort >>> 8), 0x01000193);
  return mixBits(h);
}

/**
 * FNV-1a's low bits depend only on the low bits of the input bytes (the multiplier is odd), so `% workers` for a
 * power-of-two count would see only the parity of each byte: flows whose ports advance together (a client's
 * sequential ephemeral ports toward sequential server ports) would all land on one worker. A final avalanche (the
 * murmur3 fmix32 constants) spreads every input bit over the low bits.
 */
function mixBits(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Little-endian u32, as every header field of these records. */
export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

/** A u32 field of a JSON record (control requests, route snapshots) as the receiving side validates it. */
export function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

/** Writes `a` into a 16-byte address slot at buf[off] (IPv4 in the first 4 bytes). */
export function writeAddress(buf: Uint8Array, off: number, a: Address): void {
  buf.set(a.bytes, off);
}

/** Reads an address of `family` from a slot (interned: allocation-free for addresses seen recently). */
export function readAddress(buf: Uint8Array, off: number, family: 4 | 6): Address {
  return Address.intern(buf, off, family === 4 ? 4 : 16);
}

// ---- fixed-header codecs: each record's layout is written and read here only (offsets as documented above)

/** SEGMENT_HEADER at b[at]; the TCP bytes follow at at + SEGMENT_HEADER. */
export function writeSegmentHeader(
  b: Uint8Array, at: number, family: 4 | 6, flags: number, ttl: number, tos: number, nic: number,
  source: Address, destination: Address,
): void {
  b[at] = family;
  b[at + 1] = flags;
  b[at + 2] = ttl;
  b[at + 3] = tos;
  writeU32(b, at + 4, nic >>> 0);
  b.fill(0, at + 8, at + SEGMENT_HEADER);
  writeAddress(b, at + 8, source);
  writeAddress(b, at + 24, destination);
}

/** SEGMENT_HEADER fields (the reader fills a reused one: the receive path allocates nothing). */
export interface SegmentFields {
  family: 4 | 6;
  flags: number;
  ttl: number;
  tos: number;
  nic: number;
  source: Address;
  destination: Address;
}

/** Reads a SEGMENT header into `into`; false (nothing read) for an unknown family. */
export function readSegmentHeader(b: Uint8Array, at: number, into: SegmentFields): boolean {
  const family = b[at];
  if (family !== 4 && family !== 6) return false;
  into.family = family;
  into.flags = b[at + 1]!;
  into.ttl = b[at + 2]!;
  into.tos = b[at + 3]!;
  into.nic = readU32(b, at + 4);
  into.source = readAddress(b, at + 8, family);
  into.destination = readAddress(b, at + 24, family);
  return true;
}

/** FRAME_HEADER at b[at]; the TCP bytes follow at at + FRAME_HEADER. */
export function writeFrameHeader(
  b: Uint8Array, at: number, family: 4 | 6, flags: number, ttl: number, tos: number, nic: number,
  local: Address, remote: Address, gsoType: number, gsoSize: number,
): void {
  b[at] = family;
  b[at + 1] = flags;
  b[at + 2] = ttl & 0xff;
  b[at + 3] = tos & 0xff;
  writeU32(b, at + 4, nic);
  b.fill(0, at + 8, at + 40);
  writeAddress(b, at + 8, local);
  writeAddress(b, at + 24, remote);
  b[at + 40] = gsoType;
  b[at + 41] = 0;
  b[at + 42] = gsoSize & 0xff;
  b[at + 43] = (gsoSize >>> 8) & 0xff;
}

/** FRAME_HEADER fields (reused by the reader, as SegmentFields). */
export interface FrameFields {
  family: 4 | 6;
  flags: number;
  ttl: number;
  tos: number;
  nic: number;
  local: Address;
  remote: Address;
  gsoType: number;
  gsoSize: number;
}

/** Reads a FRAME header into `into` (any family byte but 6 reads as IPv4: the worker is trusted code). */
export function readFrameHeader(b: Uint8Array, at: number, into: FrameFields): void {
  const family = b[at] === 6 ? 6 : 4;
  into.family = family;
  into.flags = b[at + 1]!;
  into.ttl = b[at + 2]!;
  into.tos = b[at + 3]!;
  into.nic = readU32(b, at + 4);
  into.local = readAddress(b, at + 8, family);
  into.remote = readAddress(b, at + 24, family);
  into.gsoType = b[at + 40]!;
  into.gsoSize = b[at + 42]! | (b[at + 43]! << 8);
}

/** ICMP_ERROR_HEADER fields. */
export interface IcmpErrorFields {
  family: 4 | 6;
  /** Index into TRANSPORT_ERROR_KINDS. */
  kind: number;
  icmpType: number;
  icmpCode: number;
  nic: number;
  mtu: number;
  reporter: Address;
  /** The quoted segment's source: our local address. */
  quotedSource: Address;
  /** The quoted segment's destination: the remote. */
  quotedDestination: Address;
}

/** ICMP_ERROR_HEADER at b[0] of a new record with `quoted` after it. */
export function encodeIcmpError(f: IcmpErrorFields, quoted: Uint8Array): Uint8Array {
  const b = new Uint8Array(ICMP_ERROR_HEADER + quoted.length);
  b[0] = f.family;
  b[1] = f.kind;
  b[2] = f.icmpType & 0xff;
  b[3] = f.icmpCode & 0xff;
  writeU32(b, 4, f.nic >>> 0);
  writeU32(b, 8, f.mtu >>> 0);
  writeAddress(b, 12, f.reporter);
  writeAddress(b, 28, f.quotedSource);
  writeAddress(b, 44, f.quotedDestination);
  b.set(quoted, ICMP_ERROR_HEADER);
  return b;
}

/** Reads an ICMP_ERROR header; undefined for an unknown family or error kind. */
export function readIcmpErrorHeader(b: Uint8Array, at: number): IcmpErrorFields | undefined {
  const family = b[at];
  const kind = b[at + 1]!;
  if ((family !== 4 && family !== 6) || kind >= TRANSPORT_ERROR_KINDS.length) return undefined;
  return {
    family, kind, icmpType: b[at + 2]!, icmpCode: b[at + 3]!, nic: readU32(b, at + 4), mtu: readU32(b, at + 8),
    reporter: readAddress(b, at + 12, family), quotedSource: readAddress(b, at + 28, family),
    quotedDestination: readAddress(b, at + 44, family),
  };
}

/** ACCEPTED_RECORD fields. */
export interface AcceptedFields {
  /** The listener's id. */
  listener: number;
  /** The new endpoint's id on the worker. */
  id: number;
  family: 4 | 6;
  peer: Address;
  peerPort: number;
  local: Address;
  localPort: number;
}

/**
 * ACCEPTED_RECORD at b[0] (b holds at least ACCEPTED_RECORD bytes). Without `local` (the worker's endpoint could
 * not tell), the slot and port are zero.
 */
export function writeAcceptedRecord(b: Uint8Array, f: Omit<AcceptedFields, 'local'> & { local: Address | undefined }): void {
  b.fill(0, 0, ACCEPTED_RECORD);
  writeU32(b, 0, f.listener);
  writeU32(b, 4, f.id);
  b[8] = f.family;
  b[12] = f.peerPort & 0xff;
  b[13] = f.peerPort >>> 8;
  b[14] = f.localPort & 0xff;
  b[15] = f.localPort >>> 8;
  writeAddress(b, 16, f.peer);
  if (f.local) writeAddress(b, 32, f.local);
}

export function readAcceptedRecord(b: Uint8Array, at: number): AcceptedFields {
  const family = b[at + 8] === 6 ? 6 : 4;
  return {
    listener: readU32(b, at), id: readU32(b, at + 4), family,
    peerPort: b[at + 12]! | (b[at + 13]! << 8), localPort: b[at + 14]! | (b[at + 15]! << 8),
    peer: readAddress(b, at + 16, family), local: readAddress(b, at + 32, family),
  };
}

/** Every TcpipError singleton by its code, so an error crosses the thread boundary as its name. */
export const ERROR_CODES: readonly TcpipError[] = Object.values(TcpipErrors);
const BY_CODE = new Map<string, TcpipError>(ERROR_CODES.map((e) => [e.code, e]));

export function errorIndex(e: TcpipError | undefined): number {
  return e === undefined ? -1 : ERROR_CODES.indexOf(e);
}
export function errorAt(i: number): TcpipError | undefined {
  return i < 0 ? undefined : ERROR_CODES[i];
}
/** The singleton for a code name; an unknown name (a worker bug) maps to invalidEndpointState, never undefined. */
export function errorFromCode(code: string): TcpipError {
  return BY_CODE.get(code) ?? TcpipErrors.invalidEndpointState;
}

/** A FullAddress for JSON; the unspecified address (bind to any) travels as no `addr`. */
export function toWireAddress(a: FullAddress): WireFullAddress {
  return { ...(a.address.isUnspecified() ? {} : { addr: a.address.toString() }), port: a.port, nic: a.nic ?? 0 };
}
/** Back to a FullAddress; without `addr`, the unspecified address of `family`. */
export function fromWireAddress(w: WireFullAddress, family: 4 | 6): FullAddress {
  return { address: w.addr !== undefined ? Address.parse(w.addr) : family === 4 ? IPV4_ANY : IPV6_ANY, port: w.port, nic: w.nic };
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
export function encodeJson(v: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(v));
}
export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(textDecoder.decode(bytes)) as T;
}
