// Public API of @tsvisor/sentry (filled in as the package grows).
export {};
export * from './boot/index.js';
export * from './vfs/index.js';
export * from './kernel/index.js';
