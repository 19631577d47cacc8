// OCI hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle"): programs on the host that
// the runtime runs at fixed points, each given the container's state JSON on stdin. Docker's networking is one.
// The sandbox has no host namespaces of its own to enter, so the hooks the spec runs "in the container
// namespace" (createContainer, startContainer) run in runsc's namespaces too, at the same points.
import { spawn } from 'node:child_process';
import type { OciHook } from './oci_spec.js';
import { RuntimeError } from './runtime_error.js';

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export function hooksOf(hooks: Record<string, unknown> | undefined, kind: HookKind): OciHook[] {
  return ((hooks?.[kind] as OciHook[] | undefined) ?? []).filter((h) => typeof h?.path === 'string');
}

function runHook(kind: HookKind, hook: OciHook, stateJson: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = hook.args ?? [hook.path];
    // config.md: args has execv's semantics, so args[0] is the program's argv[0], not an extra argument.
    const child = spawn(hook.path, args.slice(1), {
      argv0: args[0] ?? hook.path,
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timedOut = false;
    const timer =
      hook.timeout !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, hook.timeout * 1000)
        : undefined;
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    child.stdin.on('error', () => {}); // a hook that never reads its stdin is fine
    child.stdin.end(stateJson);
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new RuntimeError('EHOOK', `${kind} hook ${hook.path}: cannot run: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${hook.timeout} s` : signal ? `killed by ${signal}` : `exited with ${code}`;
      reject(new RuntimeError('EHOOK', `${kind} hook ${hook.path} ${why}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

/** Runs the hooks of `kind` in order; the first failure stops the rest and is thrown (runtime.md). */
export async function runHooks(kind: HookKind, hooks: Record<string, unknown> | undefined, state: object): Promise<void> {
  const stateJson = JSON.stringify(state);
  for (const hook of hooksOf(hooks, kind)) await runHook(kind, hook, stateJson);
}
