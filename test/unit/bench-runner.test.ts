import { describe, expect, it } from 'vitest';
import { checkResult, formatCell, formatRatio, formatReport, formatTable } from '../../bench/format.js';
import type { BenchResult } from '../../bench/types.js';

const fake: BenchResult = {
  name: 'fake',
  rows: [
    { case: 'embedded', calls: 1000, p50ms: 1.23456 },
    { case: 'drachtio', calls: 1000, p50ms: 12.5, note: 'slow' },
  ],
  ratio: 10.125,
  ratioLabel: 'drachtio p50 / embedded p50 (lower is better)',
};

describe('bench runner output', () => {
  it('aligns the union of the rows keys, numbers right and text left', () => {
    expect(formatTable(fake.rows)).toBe(
      [
        'case      calls  p50ms  note',
        '--------  -----  -----  ----',
        'embedded   1000  1.235',
        'drachtio   1000   12.5  slow',
      ].join('\n'),
    );
  });

  it('ends with the ratio label line and exactly one ratio line of 3 significant digits', () => {
    const lines = formatReport(fake).split('\n');
    expect(lines[0]).toBe('bench: fake');
    expect(lines.at(-2)).toBe('# ratio = drachtio p50 / embedded p50 (lower is better)');
    expect(lines.at(-1)).toBe('ratio: 10.1');
    expect(lines.filter((l) => l.startsWith('ratio:'))).toHaveLength(1);
  });

  it('writes ratios out in full with 3 significant digits', () => {
    expect(formatRatio(1)).toBe('1.00');
    expect(formatRatio(0.012345)).toBe('0.0123');
    expect(formatRatio(12345)).toBe('12300');
    expect(formatRatio(Number.NaN)).toBe('NaN');
  });

  it('formats cells without exponent notation', () => {
    expect(formatCell(0.000123456)).toBe('0.0001235');
    expect(formatCell(123456.7)).toBe('123457');
    expect(formatCell(42)).toBe('42');
    expect(formatCell(undefined)).toBe('');
    expect(formatTable([])).toBe('(no rows)');
  });

  it('refuses what is not a BenchResult', () => {
    expect(checkResult(fake)).toBe(fake);
    expect(() => checkResult({ name: 'x', rows: [], ratio: '2', ratioLabel: 'y' })).toThrow(/ratio must be a number/);
    expect(() => checkResult(undefined)).toThrow(/not a BenchResult/);
  });
});
