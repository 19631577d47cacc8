// TSVISOR_BOOT_TIMING=1 makes the sentry print when each boot phase ends, in ms since its process started
// (performance.now(): Node's time origin is process start), one "sentry boot: <phase> <ms>" line each on stderr.
// For finding where startup time goes (docs: issue 3); off by default, the container's stderr is not ours.
const enabled = process.env.TSVISOR_BOOT_TIMING === '1';

export function markBootPhase(phase: string): void {
  if (enabled) process.stderr.write(`sentry boot: ${phase} ${performance.now().toFixed(1)}\n`);
}
