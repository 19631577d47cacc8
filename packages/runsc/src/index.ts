// Public API of @tsvisor/runsc: the CLI entry and the pieces other tools (tests, benchmarks) reuse.
export { runCli, RUNSC_VERSION, type CliIo } from './cli.js';
export { RuntimeError, type RuntimeErrorCode } from './runtime_error.js';
export { validateOciConfig, assertValidOciConfig, loadBundle, type LoadedBundle } from './oci_config.js';
export type * from './oci_spec.js';
export { OCI_VERSION } from './oci_spec.js';
export { defaultSpec, rootlessSpec } from './default_spec.js';
export { StateStore, DEFAULT_STATE_ROOT, type ContainerState, type ContainerStatus } from './state_store.js';
export { doSpec } from './run_commands.js';
