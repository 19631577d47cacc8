// Benchmark results as rows of a table: each row is one workload, with our figure, native's, and peers' from the
// same run, and the ratios that docs/benchmarks.md records.
import os from 'node:os';

export interface Row {
  workload: string;
  unit: string;
  /** Lower is better for times, higher for rates: `better` says which, so ratios read "how far from native". */
  better: 'lower' | 'higher';
  figures: Record<string, number | undefined>;
  /** Why a figure is missing (e.g. "sentry cannot run programs yet"). */
  notes?: string[];
}

export function ratio(ours: number | undefined, base: number | undefined, better: Row['better']): string {
  if (ours === undefined || base === undefined || base === 0 || ours === 0) return 'n/a';
  return (better === 'lower' ? ours / base : ours / base).toFixed(2) + '×';
}

export function renderMarkdown(rows: Row[], columns: string[]): string {
  const date = new Date().toISOString().slice(0, 10);
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  const lines = [
    `Run ${date} on ${os.cpus().length} × ${cpu}, Linux ${os.release()}, Node ${process.version}.`,
    '',
    `| workload | unit | ${columns.join(' | ')} | tsvisor / native | tsvisor / others |`,
    `| --- | --- | ${columns.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  for (const row of rows) {
    const f = row.figures;
    const others = columns
      .filter((c) => c !== 'tsvisor' && c !== 'native' && f[c] !== undefined)
      .map((c) => `${c} ${ratio(f.tsvisor, f[c], row.better)}`)
      .join(', ');
    lines.push(
      `| ${row.workload} | ${row.unit} | ${columns.map((c) => (f[c] === undefined ? '—' : fmt(f[c]!))).join(' | ')} | ` +
        `${ratio(f.tsvisor, f.native, row.better)} | ${others || '—'} |`,
    );
  }
  const notes = rows.flatMap((r) => (r.notes ?? []).map((n) => `- ${r.workload}: ${n}`));
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
