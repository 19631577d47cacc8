// The sentry's boot and control side: its command line, the control protocol runsc speaks to it, and the
// container lifecycle the control socket drives.
export * from './boot_args.js';
export * from './control_protocol.js';
export * from './container_lifecycle.js';
export * from './control_server.js';
export * from './log_destination.js';
export * from './sandbox_boot.js';
export * from './socket_path.js';
