// The sentry's boot contract as runsc sees it (@tsvisor/sentry/boot): its command line, the readiness message,
// the control protocol runsc speaks to it, the log format both write, the control socket's path rules.
//
// Only these light modules: runsc loads this on every command, and re-exporting the boot itself
// (sandbox_boot.ts, control_server.ts, container_lifecycle.ts pull in the kernel, VFS and 9P client) cost runsc
// tens of milliseconds of module loading per start. The sentry's own entry (main.ts) imports those directly.
export * from './boot_args.js';
export * from './control_protocol.js';
export * from './log_destination.js';
export * from './socket_path.js';
export * from './argv_pipe.js';
