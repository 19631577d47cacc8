// Public API of @tsvisor/seccomp (filled in as the package grows).
export {};
