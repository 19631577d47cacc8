// state, list and ps: read-only views of containers, in runc's output formats.
import { controlRequest } from './control_client.js';
import { currentStatus, runcStateView, type RuncStateView } from './container_status.js';
import type { GlobalOptions } from './global_options.js';
import { RuntimeError } from './runtime_error.js';
import { StateStore } from './state_store.js';

/** runsc state: runc's JSON (indented as runc prints it). */
export function stateCommand(global: GlobalOptions, id: string): string {
  return `${JSON.stringify(runcStateView(new StateStore(global.root).read(id)), null, 2)}\n`;
}

/** All containers' views; one removed while listing is skipped rather than failing the listing. */
export function listContainers(global: GlobalOptions): RuncStateView[] {
  const store = new StateStore(global.root);
  const views: RuncStateView[] = [];
  for (const id of store.list()) {
    try {
      views.push(runcStateView(store.read(id)));
    } catch (err) {
      if (!(err instanceof RuntimeError && err.code === 'ENOCONTAINER')) throw err;
    }
  }
  return views;
}

/** Left-aligned columns separated by at least one space, as Go's tabwriter lays out runc's table. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]! + 1))).join('').trimEnd())
    .join('\n')
    .concat('\n');
}

export type ListFormat = 'table' | 'json';

/** runsc list [--format table|json] [--quiet]. */
export function listCommand(global: GlobalOptions, format: ListFormat, quiet: boolean): string {
  const views = listContainers(global);
  if (quiet) return views.map((v) => `${v.id}\n`).join('');
  if (format === 'json') return `${JSON.stringify(views)}\n`;
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const v of views) rows.push([v.id, String(v.pid), v.status, v.bundle, v.created, v.owner]);
  return formatTable(rows);
}

/** runsc ps [--format table|json] ID: the container's processes (pids as the container sees them). */
export async function psCommand(global: GlobalOptions, id: string, format: ListFormat): Promise<string> {
  const store = new StateStore(global.root);
  const state = store.read(id);
  const status = currentStatus(state);
  const processes = status === 'running' || status === 'paused' ? ((await controlRequest(state.controlSocket, { op: 'ps' })).processes ?? []) : [];
  // runc ps --format json prints the pids; the table shows ps(1)-like columns.
  if (format === 'json') return `${JSON.stringify(processes.map((p) => p.pid))}\n`;
  return formatTable([['UID', 'PID', 'PPID', 'CMD'], ...processes.map((p) => [String(p.uid), String(p.pid), String(p.ppid), p.argv.join(' ')])]);
}
