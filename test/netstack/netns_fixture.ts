// A network namespace joined to the host by a veth, with `netstack serve` taking the namespace's end over: the
// set-up the real-peer tests share. Names and subnets are derived from the pid and a per-file tag so parallel test
// files and runs do not collide; stop() removes everything it created.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const netstackTool = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages/netstack/dist/tools/netstack.js');

export interface ServeFixtureOptions {
  /** One or two letters that make this file's names unique (e.g. 'b' gives tsvbns<id>, tsvbh<id>, tsvbn<id>). */
  tag: string;
  /** Second octet base of the IPv4 /24 (10.<base + id % 50>.x.0/24) and a hex word for the IPv6 /64. */
  octetBase: number;
  v6Word: string;
  /** Extra arguments to `netstack serve`. */
  serveArgs?: string[];
}

export interface ServeReady {
  ready: boolean;
  device: string;
  mtu: number;
  addresses: string[];
  routes: string[];
  services: Record<string, number>;
}

export interface ServeFixture {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly host4: string;
  readonly peer4: string;
  readonly host6: string;
  readonly peer6: string;
  readonly child: ChildProcess;
  /** The tool's first stdout line: {ready, device, mtu, addresses, routes, services}. */
  readonly ready: ServeReady;
  /** Everything the tool wrote to stderr since start or the last clearStderr(). */
  stderr(): string;
  clearStderr(): void;
  /** SIGTERM (then SIGKILL), delete the namespace and the host end of the veth. Safe to call twice. */
  stop(): Promise<void>;
}

const sh = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { timeout: 15_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export async function startServe(o: ServeFixtureOptions): Promise<ServeFixture> {
  if (!existsSync(netstackTool)) throw new Error(`${netstackTool} is missing: build first (npx tsc -b)`);
  const id = process.pid % 100000;
  const ns = `tsv${o.tag}ns${id}`;
  const hostIf = `tsv${o.tag}h${id}`;
  const nsIf = `tsv${o.tag}n${id}`;
  const net4 = `10.${o.octetBase + (id % 50)}.${Math.floor(id / 50) % 250}`;
  const net6 = `fd00:${o.v6Word}:${id.toString(16)}`;
  const f = { ns, hostIf, nsIf, host4: `${net4}.1`, peer4: `${net4}.2`, host6: `${net6}::1`, peer6: `${net6}::2` };
  let err = '';
  let child: ChildProcess | undefined;
  let ready: ServeReady;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
    } catch {}
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    sh('ip', ['link', 'set', nsIf, 'netns', ns]);
    sh('ip', ['addr', 'add', `${f.host4}/24`, 'dev', hostIf]);
    sh('ip', ['addr', 'add', `${f.host6}/64`, 'dev', hostIf, 'nodad']);
    sh('ip', ['link', 'set', hostIf, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${f.peer4}/24`, 'dev', nsIf]);
    sh('ip', ['-n', ns, 'addr', 'add', `${f.peer6}/64`, 'dev', nsIf, 'nodad']);
    sh('ip', ['-n', ns, 'link', 'set', nsIf, 'up']);
    child = spawn('ip', ['netns', 'exec', ns, process.execPath, netstackTool, 'serve', '--device', nsIf, ...(o.serveArgs ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    ready = await new Promise<ServeReady>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`netstack serve not ready after 15 s; stderr: ${err}`)), 15_000);
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(t);
          try {
            resolve(JSON.parse(out.slice(0, nl)) as ServeReady);
          } catch {
            reject(new Error(`netstack serve printed ${out.slice(0, nl)} instead of its ready line; stderr: ${err}`));
          }
        }
      });
      child!.on('exit', (code) => reject(new Error(`netstack serve exited with ${code}: ${err}`)));
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { ...f, child, ready, stderr: () => err, clearStderr: () => void (err = ''), stop };
}

/** Sends SIGUSR1 and waits (up to 5 s) for a statistics dump containing `line`; returns the dump. */
export async function statsAfterSigusr1(f: ServeFixture, line: string): Promise<string> {
  f.clearStderr();
  f.child.kill('SIGUSR1');
  for (let i = 0; i < 100 && !f.stderr().includes(line); i++) await new Promise((r) => setTimeout(r, 50));
  return f.stderr();
}

/** Runs a shell script on the host side, failing after `timeoutMs`; returns its stdout. */
export const run = (script: string, timeoutMs: number): string =>
  execFileSync('sh', ['-c', script], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });

export const sha256File = (path: string): string => run(`sha256sum ${path}`, 30_000).split(' ')[0]!;

/** The value of statistic `name` ("name N" lines) in a dump of the tool's statistics. */
export const statValue = (dump: string, name: string): number => {
  const m = new RegExp(`^${name.replaceAll('.', '\\.')} (\\d+)$`, 'm').exec(dump);
  if (!m) throw new Error(`no ${name} in statistics:\n${dump}`);
  return Number(m[1]);
};

/**
 * Fetches small1.bin .. small<count>.bin from the tool's HTTP server into `into` all at once, a connection per
 * transfer (--parallel-immediate opens them at once instead of waiting to reuse one). Returns the sha256 lists of
 * the served files and of what arrived, sorted by name, for the caller to compare.
 */
export function downloadInParallel(f: ServeFixture, httpPort: number, www: string, into: string, count: number): { served: string; received: string } {
  execFileSync('mkdir', [into]);
  run(
    `curl -sS --fail --parallel --parallel-immediate --parallel-max ${count} --max-time 60 ` +
      `-o '${into}/small#1.bin' 'http://${f.peer4}:${httpPort}/small[1-${count}].bin'`,
    90_000,
  );
  return {
    served: run(`cd ${www} && sha256sum small*.bin | sort -k2`, 30_000),
    received: run(`cd ${into} && sha256sum small*.bin | sort -k2`, 30_000),
  };
}

/**
 * Runs `body` while the host drops `percent`% of what it sends into the veth (an nftables table named `table` on
 * the output hook), then removes the rule; returns how many packets it dropped. The output hook sees the host's TCP
 * packets before segmentation (up to 64 KB each), so the host device sends one segment per packet meanwhile: the
 * loss is per segment, as on a real link. Connections made inside `body` pick it up.
 */
export function withHostLoss(f: ServeFixture, table: string, percent: number, body: () => void): number {
  run(`ip link set dev ${f.hostIf} gso_max_segs 1`, 10_000);
  try {
    run(
      `nft add table inet ${table} && nft add chain inet ${table} out '{ type filter hook output priority 0; }' && ` +
        `nft add rule inet ${table} out oifname ${f.hostIf} numgen random mod 100 '<' ${percent} counter drop`,
      10_000,
    );
    body();
    return Number(/packets (\d+)/.exec(run(`nft list table inet ${table}`, 10_000))?.[1]);
  } finally {
    deleteNftTable(table);
    execFileSync('ip', ['link', 'set', 'dev', f.hostIf, 'gso_max_segs', '65535'], { stdio: 'ignore' });
  }
}

/** Removes an nftables table withHostLoss made, if it is still there (cleanup after a failed test). */
export function deleteNftTable(table: string): void {
  try {
    execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' });
  } catch {}
}
