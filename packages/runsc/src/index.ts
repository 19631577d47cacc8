// Public API of @tsvisor/runsc (filled in as the package grows).
export {};
