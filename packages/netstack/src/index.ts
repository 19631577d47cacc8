// Public API of @tsvisor/netstack (filled in as the package grows).
export {};
