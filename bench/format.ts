/**
 * Text output of the benchmark runner, kept apart from bench/run.ts so it can be tested
 * without spawning a process. The last line of a report is always `ratio: <3 significant
 * digits>`, the one number CI and people compare between runs.
 */
import type { BenchResult } from './types.js';

type Cell = string | number;

/** Numbers keep 4 significant digits (whole numbers from 10,000 up are rounded), never exponent notation below 1e21. */
export function formatCell(value: Cell | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  return String(Math.abs(value) >= 10_000 ? Math.round(value) : Number(value.toPrecision(4)));
}

/**
 * An aligned text table: the columns are the union of the rows' keys in order of first
 * appearance, a missing cell is empty, numbers are right-aligned and text left-aligned.
 */
export function formatTable(rows: ReadonlyArray<Record<string, Cell>>): string {
  const columns: string[] = [];
  for (const row of rows) {
    for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  }
  if (columns.length === 0) return '(no rows)';
  const cells = rows.map((row) => columns.map((c) => formatCell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  // A column is numeric (right-aligned) when every value present in it is a number.
  const numeric = columns.map((c) => rows.every((row) => row[c] === undefined || typeof row[c] === 'number'));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** The ratio with 3 significant digits, written out in full ("12300", not "1.23e+4"). */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  const fixed = ratio.toPrecision(3);
  return fixed.includes('e') ? String(Number(fixed)) : fixed;
}

/** The whole report; its last line is `ratio: …`, the line before it says what the ratio is. */
export function formatReport(result: BenchResult): string {
  return [
    `bench: ${result.name}`,
    '',
    formatTable(result.rows),
    '',
    `# ratio = ${result.ratioLabel}`,
    `ratio: ${formatRatio(result.ratio)}`,
  ].join('\n');
}

/** Checks what a bench module returned, so a broken bench fails with a message, not a stack from the formatter. */
export function checkResult(value: unknown): BenchResult {
  const r = value as Partial<BenchResult> | null;
  const problems: string[] = [];
  if (typeof r !== 'object' || r === null) return fail(['run() must resolve to an object']);
  if (typeof r.name !== 'string') problems.push('name must be a string');
  if (!Array.isArray(r.rows)) problems.push('rows must be an array');
  else if (r.rows.some((row) => typeof row !== 'object' || row === null || Array.isArray(row))) {
    problems.push('every row must be an object');
  }
  if (typeof r.ratio !== 'number') problems.push('ratio must be a number');
  if (typeof r.ratioLabel !== 'string') problems.push('ratioLabel must be a string');
  if (problems.length > 0) fail(problems);
  return r as BenchResult;

  function fail(list: string[]): never {
    throw new TypeError(`not a BenchResult: ${list.join('; ')}`);
  }
}
