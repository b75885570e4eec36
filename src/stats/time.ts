/**
 * Times of the statistics module. Records store ISO 8601 UTC strings from toISOString() only
 * (always 24 characters, years 1970-9999), so comparing them as text in SQL compares times.
 * Months and days of reports are calendar months and days in a time zone (`reports.timeZone`,
 * default UTC): a Danish operator's November starts at midnight in Copenhagen, and its days
 * are 23 or 25 hours long when the clocks change.
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
  /** First millisecond of the month (local midnight on the 1st). */
  from: number;
  /** First millisecond of the next month. */
  to: number;
  days: number;
  /** The first millisecond of each day, and `to` last: days + 1 instants. */
  dayStarts: number[];
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in a time zone. */
function wallClock(ms: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) % 24, minute: Number(parts.minute), second: Number(parts.second) };
}

/** How far the zone's wall clock is ahead of UTC at an instant (ms). */
function offsetMs(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
}

/** Throws unless the runtime knows the IANA time zone (e.g. Europe/Copenhagen). */
export function checkTimeZone(timeZone: string): string {
  try {
    formatter(timeZone);
  } catch {
    throw new InvalidStatsInputError(`time zone "${printable(timeZone)}" is unknown: use an IANA name such as Europe/Copenhagen or UTC`);
  }
  return timeZone;
}

/** The first millisecond of the calendar day in the zone (months and days may overflow, as in Date.UTC). */
export function localMidnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // The offset at the guess, then at the result: they differ when the clocks change that night.
  const first = wall - offsetMs(wall, timeZone);
  return wall - offsetMs(first, timeZone);
}

/** 'YYYY-MM' → its range in the zone; anything else is refused with the expected form. */
export function parseMonth(month: unknown, timeZone = 'UTC'): MonthRange {
  const m = typeof month === 'string' ? /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month) : null;
  const year = m ? Number(m[1]) : 0;
  if (!m || year < 1970) {
    throw new InvalidStatsInputError(`month "${printable(month)}" must be YYYY-MM, e.g. 2026-11`);
  }
  const mon = Number(m[2]);
  const days = new Date(Date.UTC(year, mon, 0)).getUTCDate();
  const dayStarts = Array.from({ length: days + 1 }, (_, i) => localMidnight(year, mon, i + 1, timeZone));
  return { month: month as string, from: dayStarts[0]!, to: dayStarts[days]!, days, dayStarts };
}

/** 'YYYY-MM-DD' → the first millisecond of that day in the zone. */
export function parseDay(day: unknown, timeZone = 'UTC'): number {
  const m = typeof day === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(day) : null;
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  const d = new Date(ms);
  if (!m || Number(m[1]) < 1970 || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw new InvalidStatsInputError(`day "${printable(day)}" must be a calendar day YYYY-MM-DD, e.g. 2026-11-03`);
  }
  return localMidnight(Number(m[1]), Number(m[2]), Number(m[3]), timeZone);
}

/** 'YYYY-MM-DD' of a time in the zone. */
export function dayOf(ms: number, timeZone = 'UTC'): string {
  const w = wallClock(ms, timeZone);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/** 'HH:MM' of a time in the zone. */
export function timeOfDay(ms: number, timeZone = 'UTC'): string {
  const w = wallClock(ms, timeZone);
  return `${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
}
