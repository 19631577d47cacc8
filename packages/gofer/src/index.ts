// Public API of @tsvisor/gofer: the 9P file server (Gofer), its kernel confinement, and the process entry's parser.
export { Gofer, type GoferFile, type GoferOptions, type GoferRoot } from './gofer.js';
export {
  confineToRoots,
  assertOwnMountNamespace,
  ConfinementError,
  type Confinement,
  type ConfineMount,
  type ConfineOptions,
} from './confine.js';
export { parseGoferArgs, type GoferArgs } from './main.js';
export { GOFER_CAPABILITIES, GOFER_CAPABILITY_MASK, dropGoferCapabilities } from './capabilities.js';
