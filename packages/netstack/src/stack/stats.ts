// Statistics counters of a stack, grouped like Linux's /proc/net/snmp (Ip, Icmp, Udp, ...). Plain number fields:
// incrementing one is a property store, nothing is allocated per packet. TCP keeps its own counters
// (TcpProtocol.stats in transport/tcp).

function counters<K extends string>(...names: K[]): Record<K, number> {
  const o = {} as Record<K, number>;
  for (const n of names) o[n] = 0;
  return o;
}

export function newStackStats() {
  return {
    nic: counters('rxPackets', 'rxBytes', 'txPackets', 'txBytes', 'rxUnknownEtherType', 'rxDisabled', 'txErrors'),
    ip: counters(
      'packetsReceived', 'invalidDestinationAddresses', 'invalidSourceAddresses', 'malformedPackets',
      'packetsDelivered', 'packetsSent', 'outgoingPacketErrors', 'forwardingDisabled', 'ttlExceeded',
      'unknownProtocol', 'fragmentsReceived', 'reassembled', 'reassemblyErrors', 'reassemblyTimeouts',
      'fragmentsCreated', 'fragmentationNeeded', 'optionsProcessed', 'sourceRouted', 'checksumErrors', 'noRoute',
    ),
    icmp: counters(
      'received', 'sent', 'echoRequestsReceived', 'echoRepliesSent', 'echoRepliesReceived', 'destUnreachableSent',
      'destUnreachableReceived', 'timeExceededSent', 'timeExceededReceived', 'packetTooBigSent',
      'packetTooBigReceived', 'paramProblemSent', 'invalid', 'rateLimited',
    ),
    ndp: counters(
      'neighborSolicitsReceived', 'neighborSolicitsSent', 'neighborAdvertsReceived', 'neighborAdvertsSent',
      'routerSolicitsReceived', 'routerAdvertsReceived', 'invalid',
    ),
    arp: counters('requestsReceived', 'repliesReceived', 'requestsSent', 'repliesSent', 'malformed', 'ignored'),
    neighbor: counters('resolutionsStarted', 'resolutionsFailed', 'queuedPacketsDropped', 'unreachableEntryLookups', 'tableOverflows'),
    udp: counters(
      'packetsReceived', 'unknownPortErrors', 'receiveBufferErrors', 'malformedPackets', 'checksumErrors',
      'packetsSent', 'packetSendErrors',
    ),
    raw: counters('packetsReceived', 'receiveBufferErrors', 'packetsSent'),
    // Exceptions from the stack's own code caught at a packet-path boundary (stack/internal_error.ts): each is a
    // packet dropped because of a bug, not because of the packet. Non-zero means something needs fixing.
    internalErrors: counters('receive', 'transmit'),
  };
}

export type StackStats = ReturnType<typeof newStackStats>;

/** Renders the non-zero counters as `group.name value` lines, for SIGUSR1 dumps and logs. */
export function formatStats(stats: StackStats, includeZero = false): string {
  const lines: string[] = [];
  for (const [group, obj] of Object.entries(stats)) {
    for (const [name, v] of Object.entries(obj as Record<string, number>)) {
      if (v !== 0 || includeZero) lines.push(`${group}.${name} ${v}`);
    }
  }
  return lines.join('\n');
}
