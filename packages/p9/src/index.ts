// Public API of @tsvisor/p9: the 9P2000.L codec, client and server framework.
export * from './wire.js';
export * from './messages.js';
export { encode, decode, peekHeader, direntSize, isRequestType, FrameSplitter, FrameError } from './codec.js';
export { P9Client, type P9ClientOptions, type OpenResult, type SetattrRequest, type Statfs } from './client.js';
