// The Blocker of one task (kernel/context.ts): a blocking emulated call waits here without holding up other
// tasks; a signal that will run a handler ends the wait with ERESTARTSYS, which the dispatcher hands to the host
// kernel as the call's return value so the host applies SA_RESTART itself (restart, or EINTR: signal(7)).
import type { Blocker } from './context.js';
import { Errno, SyscallError } from './syscall_error.js';

export class TaskBlocker implements Blocker {
  private readonly interrupts = new Set<() => void>();

  wait(ready: () => boolean, subscribe: (wake: () => void) => () => void, timeoutMs?: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const done = (err?: Error): void => {
        if (finished) return;
        finished = true;
        unsubscribe();
        if (timer) clearTimeout(timer);
        this.interrupts.delete(onSignal);
        if (err) reject(err);
        else resolve();
      };
      const onSignal = (): void => done(new SyscallError(Errno.ERESTARTSYS));
      const unsubscribe = subscribe(() => {
        if (ready()) done();
      });
      this.interrupts.add(onSignal);
      // A timeout resolves: the caller re-checks its condition and its own deadline (poll, select, futex-like).
      if (timeoutMs !== undefined && timeoutMs >= 0) timer = setTimeout(() => done(), timeoutMs);
    });
  }

  /** True while some call of this task waits here. */
  get waiting(): boolean {
    return this.interrupts.size > 0;
  }

  /** Ends every pending wait with ERESTARTSYS (a signal will run a handler, or the task is going away). */
  interrupt(): void {
    for (const i of [...this.interrupts]) i();
  }
}
