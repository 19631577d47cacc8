// Public API of @tsvisor/p9: the 9P2000.L codec, client and server framework.
export * from './wire.js';
export * from './messages.js';
export { encode, decode, peekHeader, direntSize, isRequestType, FrameSplitter, FrameError } from './codec.js';
export { P9Client, type CallOptions, type P9ClientOptions, type OpenResult, type SetattrRequest, type Statfs } from './client.js';
export {
  P9ServerSession,
  serveP9,
  errnoOf,
  type P9FileHandler,
  type P9Logger,
  type P9ServerOptions,
} from './server.js';
