// Public API of @tsvisor/gofer (filled in as the package grows).
export {};
