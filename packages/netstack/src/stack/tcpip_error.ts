// Typed network-stack errors, each mapped to the Linux errno the socket syscall returns (see errno(3), socket(7),
// tcp(7), udp(7)). Errors are singletons (`TcpipErrors.wouldBlock`, ...): endpoints return them instead of
// throwing, so a non-blocking read that finds nothing allocates nothing and the syscall layer decides how to block.

export type TcpipErrorCode =
  | 'WouldBlock'
  | 'ConnectStarted'
  | 'AlreadyConnecting'
  | 'AlreadyConnected'
  | 'NotConnected'
  | 'ConnectionRefused'
  | 'ConnectionReset'
  | 'ConnectionAborted'
  | 'Timeout'
  | 'AlreadyBound'
  | 'PortInUse'
  | 'BadLocalAddress'
  | 'NoRoute'
  | 'NetworkUnreachable'
  | 'HostUnreachable'
  | 'InvalidEndpointState'
  | 'InvalidOptionValue'
  | 'UnknownProtocolOption'
  | 'MessageTooLong'
  | 'ClosedForSend'
  | 'ClosedForReceive'
  | 'DestinationRequired'
  | 'NotSupported'
  | 'AddressFamilyNotSupported'
  | 'UnknownProtocol'
  | 'NoBufferSpace'
  | 'BroadcastDisabled'
  | 'NotPermitted'
  | 'Interrupted'
  | 'BadAddress'
  | 'Aborted'
  | 'MalformedHeader'
  | 'DuplicateAddress'
  | 'UnknownNICID'
  | 'NoSuchFile';

/** Linux x86_64 errno numbers used by the network stack (a subset of <errno.h>). */
export const NetErrno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  EFAULT: 14,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EPIPE: 32,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  EACCES: 13,
} as const;

export class TcpipError {
  constructor(
    readonly code: TcpipErrorCode,
    /** The Linux errno a syscall returns for this error (0: not an errno, e.g. ClosedForReceive reads as EOF). */
    readonly errno: number,
    readonly message: string,
  ) {}
  toString(): string {
    return `${this.code} (errno ${this.errno}): ${this.message}`;
  }
}

const e = (code: TcpipErrorCode, errno: number, message: string) => new TcpipError(code, errno, message);

/** The singleton error values; compare with `===` or by `.code`. */
export const TcpipErrors = {
  wouldBlock: e('WouldBlock', NetErrno.EAGAIN, 'operation would block'),
  connectStarted: e('ConnectStarted', NetErrno.EINPROGRESS, 'connection started, completes asynchronously'),
  alreadyConnecting: e('AlreadyConnecting', NetErrno.EALREADY, 'a connection attempt is already in progress'),
  alreadyConnected: e('AlreadyConnected', NetErrno.EISCONN, 'endpoint is already connected'),
  notConnected: e('NotConnected', NetErrno.ENOTCONN, 'endpoint is not connected'),
  connectionRefused: e('ConnectionRefused', NetErrno.ECONNREFUSED, 'connection refused by the peer'),
  connectionReset: e('ConnectionReset', NetErrno.ECONNRESET, 'connection reset by the peer'),
  connectionAborted: e('ConnectionAborted', NetErrno.ECONNABORTED, 'connection aborted'),
  timeout: e('Timeout', NetErrno.ETIMEDOUT, 'operation timed out'),
  alreadyBound: e('AlreadyBound', NetErrno.EINVAL, 'endpoint is already bound'),
  portInUse: e('PortInUse', NetErrno.EADDRINUSE, 'address and port already in use'),
  badLocalAddress: e('BadLocalAddress', NetErrno.EADDRNOTAVAIL, 'address is not assigned to any interface'),
  noRoute: e('NoRoute', NetErrno.ENETUNREACH, 'no route to the destination network'),
  networkUnreachable: e('NetworkUnreachable', NetErrno.ENETUNREACH, 'network unreachable'),
  hostUnreachable: e('HostUnreachable', NetErrno.EHOSTUNREACH, 'host unreachable (link address resolution failed)'),
  invalidEndpointState: e('InvalidEndpointState', NetErrno.EINVAL, 'operation not valid in the endpoint state'),
  invalidOptionValue: e('InvalidOptionValue', NetErrno.EINVAL, 'invalid option value'),
  unknownProtocolOption: e('UnknownProtocolOption', NetErrno.ENOPROTOOPT, 'option not supported by this protocol'),
  messageTooLong: e('MessageTooLong', NetErrno.EMSGSIZE, 'message too long for the protocol or path MTU'),
  closedForSend: e('ClosedForSend', NetErrno.EPIPE, 'endpoint is shut down for writing'),
  closedForReceive: e('ClosedForReceive', 0, 'endpoint is shut down for reading (end of stream)'),
  destinationRequired: e('DestinationRequired', NetErrno.EDESTADDRREQ, 'a destination address is required'),
  notSupported: e('NotSupported', NetErrno.EOPNOTSUPP, 'operation not supported on this endpoint'),
  addressFamilyNotSupported: e('AddressFamilyNotSupported', NetErrno.EAFNOSUPPORT, 'address family not supported'),
  unknownProtocol: e('UnknownProtocol', NetErrno.EPROTONOSUPPORT, 'protocol not supported by this stack'),
  noBufferSpace: e('NoBufferSpace', NetErrno.ENOBUFS, 'no buffer space available'),
  broadcastDisabled: e('BroadcastDisabled', NetErrno.EACCES, 'sending to a broadcast address needs SO_BROADCAST'),
  notPermitted: e('NotPermitted', NetErrno.EPERM, 'operation not permitted'),
  interrupted: e('Interrupted', NetErrno.EINTR, 'interrupted'),
  badAddress: e('BadAddress', NetErrno.EFAULT, 'bad address'),
  aborted: e('Aborted', NetErrno.EPIPE, 'operation aborted'),
  malformedHeader: e('MalformedHeader', NetErrno.EINVAL, 'malformed header'),
  duplicateAddress: e('DuplicateAddress', NetErrno.EEXIST, 'address already assigned'),
  unknownNICID: e('UnknownNICID', NetErrno.ENODEV, 'no NIC with this id'),
  noSuchFile: e('NoSuchFile', NetErrno.ENOENT, 'no such entry'),
} as const satisfies Record<string, TcpipError>;

export function isTcpipError(v: unknown): v is TcpipError {
  return v instanceof TcpipError;
}
