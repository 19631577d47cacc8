// Public surface of the TCP transport (re-exported from the package index).
export { TcpEndpoint, TcpState, type TcpStateValue } from './endpoint.js';
export { TcpProtocol, TcpStats, DEFAULT_TCP_SETTINGS, tcpProtocol, type TcpSettings } from './protocol.js';
export { stackTcpHost, type TcpHost, type TcpRoute } from './host.js';
export {
  CubicCongestionControl,
  RenoCongestionControl,
  createCongestionControl,
  hasCongestionControl,
  registerCongestionControl,
  type CongestionControl,
  type CongestionControlName,
} from './congestion-control.js';
export { RttEstimator, DEFAULT_RTO_LIMITS, type RtoLimits } from './rtt-estimator.js';
export { seqAdd, seqDiff, seqGE, seqGT, seqLE, seqLT, seqInRange } from './seqnum.js';
export { createTcpStackPair, type TcpStackPair } from './stack-pair.js';
