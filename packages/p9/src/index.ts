// Public API of @tsvisor/p9 (filled in as the package grows).
export {};
