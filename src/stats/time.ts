/**
 * Times of the statistics module. Records store ISO 8601 UTC strings from toISOString() only
 * (always 24 characters, years 1970-9999), so comparing them as text in SQL compares times.
 * Months and days are UTC calendar months and days.
 */
import { InvalidStatsInputError, printable } from './errors.js';

export type TimeInput = Date | string | number;

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(10000, 0, 1) - 1;
export const DAY_MS = 86_400_000;

/** A time as epoch milliseconds; strings must be ISO 8601 with a time zone. */
export function toMs(value: TimeInput, what: string): number {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const m = ISO_RE.exec(value.trim());
    ms = m ? Date.parse(value.trim()) : NaN;
    // Date.parse accepts 2026-02-30; the calendar does not.
    if (m && !Number.isNaN(ms)) {
      const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      if (day.getUTCMonth() !== Number(m[2]) - 1 || day.getUTCDate() !== Number(m[3])) ms = NaN;
    }
  } else ms = NaN;
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) {
    throw new InvalidStatsInputError(`${what} "${printable(value)}" is not a valid time: use ISO 8601 with a time zone, e.g. 2026-11-01T08:00:00Z`);
  }
  return ms;
}

export function toIso(value: TimeInput, what: string): string {
  return new Date(toMs(value, what)).toISOString();
}

export interface MonthRange {
  /** 'YYYY-MM' */
  month: string;
  /** First millisecond of the month (UTC). */
  from: number;
  /** First millisecond of the next month. */
  to: number;
  days: number;
}

/** 'YYYY-MM' → its UTC range; anything else is refused with the expected form. */
export function parseMonth(month: unknown): MonthRange {
  const m = typeof month === 'string' ? /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month) : null;
  const year = m ? Number(m[1]) : 0;
  if (!m || year < 1970) {
    throw new InvalidStatsInputError(`month "${printable(month)}" must be YYYY-MM, e.g. 2026-11`);
  }
  const from = Date.UTC(year, Number(m[2]) - 1, 1);
  const to = Date.UTC(year, Number(m[2]), 1);
  return { month: month as string, from, to, days: Math.round((to - from) / DAY_MS) };
}

/** 'YYYY-MM-DD' → the UTC day's first millisecond. */
export function parseDay(day: unknown): number {
  const m = typeof day === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(day) : null;
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  const d = new Date(ms);
  if (!m || Number(m[1]) < 1970 || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw new InvalidStatsInputError(`day "${printable(day)}" must be a calendar day YYYY-MM-DD, e.g. 2026-11-03`);
  }
  return ms;
}

/** 'YYYY-MM-DD' of a time (UTC). */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
