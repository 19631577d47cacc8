// Test support shared by the p9 and gofer tests (exported as @tsvisor/p9/testing, not part of the runtime API).
export { sampleMessages, seededRandom, mutateFrame } from './sample-messages.js';
export { RawPeer } from './raw-peer.js';
