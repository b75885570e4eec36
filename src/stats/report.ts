/**
 * The monthly KPI table the operators publish (the seeds' VDX table: uptime of infrastructure
 * and API, meetings, calls, SMS sent, video quality, licence use, capacity use) and its three
 * charts, computed from the call and meeting records of one calendar month in a time zone
 * (UTC unless the node's reports.timeZone says otherwise).
 *
 * Definitions:
 * - meetings: room sessions opened in the month; calls: legs begun in the month;
 * - minutes: connected time (answer to end) of every leg, the part within the month;
 * - video quality %: share of connected leg-minutes whose packet loss was under 1 %
 *   (lost / (received + lost)); legs that measured no packets are left out of it;
 * - licence peak / capacity peak: the most licence units / ports held at the same moment
 *   (a leg holds them from its start, ringing included, to its end), computed exactly;
 * - uptime: see availability.ts (infrastructure = SIP and media together).
 */
import type { AvailabilityStore } from './availability.js';
import type { CdrStore, LegFigures, OpenLeg } from './cdr.js';
import { InvalidStatsInputError, StatsError } from './errors.js';
import { concurrency, peakOf, peaksPerSlot, spreadOverSlots, type Interval } from './intervals.js';
import { barChart, stepChart } from './svg.js';
import { checkTimeZone, dayOf, parseDay, parseMonth, timeOfDay } from './time.js';

/** Loss at or above this share makes a leg-minute count as poor quality. */
export const QUALITY_LOSS_LIMIT = 0.01;

export interface MonthlyKpis {
  /** SIP and media together; null when nothing was measured. */
  uptimeInfrastructurePct: number | null;
  uptimeApiPct: number | null;
  meetings: number;
  calls: number;
  /** Connected minutes, rounded. */
  minutes: number;
  smsSent: number;
  /** null when no leg measured packets. */
  videoQualityPct: number | null;
  /** Leg-minutes the quality figure is based on. */
  qualityMeasuredMinutes: number;
  licencePeak: number;
  licencePeakAt?: string;
  /** Peak concurrent ports. */
  capacityPeak: number;
  capacityPeakAt?: string;
}

export interface DailyFigures {
  day: string;
  minutes: number;
  licencePeak: number;
  portPeak: number;
}

export interface MonthlyReport {
  month: string;
  from: string;
  to: string;
  generatedAt: string;
  kpis: MonthlyKpis;
  daily: DailyFigures[];
  /** The day drawn in the concurrent-ports chart. */
  portsDay: string;
  charts: { portsDay: string; dailyMinutes: string; licencesMonth: string };
}

export interface MonthlyReportOptions {
  /** 'YYYY-MM' */
  month: string;
  cdr: CdrStore;
  /** Uptime is null without it. */
  availability?: AvailabilityStore;
  /** SMS invitations sent in [from, to); 0 when there is no SMS source. */
  smsSentCount?: (from: Date, to: Date) => number;
  /** Legs still in progress (LegTracker.openLegs()); counted as running until `now`. */
  openLegs?: readonly OpenLeg[];
  /** 'YYYY-MM-DD' within the month for the ports chart; default the day of the capacity peak. */
  day?: string;
  now?: Date;
  /** IANA time zone whose calendar months and days the report follows (default UTC). */
  timeZone?: string;
}

function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

function openFigures(l: OpenLeg): LegFigures {
  return {
    start: Date.parse(l.start),
    answer: l.answer ? Date.parse(l.answer) : undefined,
    end: undefined,
    licenceUnits: l.licenceUnits,
    packetsReceived: l.packetsReceived,
    packetsLost: l.packetsLost,
  };
}

function smsCount(fn: MonthlyReportOptions['smsSentCount'], from: number, to: number): number {
  if (!fn) return 0;
  const n = fn(new Date(from), new Date(to));
  if (!Number.isSafeInteger(n) || n < 0) throw new StatsError(`the SMS source returned ${String(n)}, not a count`);
  return n;
}

export function monthlyReport(opts: MonthlyReportOptions): MonthlyReport {
  const tz = checkTimeZone(opts.timeZone ?? 'UTC');
  const range = parseMonth(opts.month, tz);
  const now = (opts.now ?? new Date()).getTime();
  const legs = [
    ...opts.cdr.legFigures({ from: range.from, to: range.to }),
    ...(opts.openLegs ?? []).map(openFigures).filter((l) => l.start < range.to),
  ];

  const portIntervals = legs.map((l): Interval => ({ start: l.start, end: l.end }));
  const ports = concurrency(portIntervals, range);
  const licences = concurrency(legs.map((l): Interval => ({ start: l.start, end: l.end, weight: l.licenceUnits })), range);
  const portPeak = peakOf(ports);
  const licencePeak = peakOf(licences);

  const dailyMs = new Array<number>(range.days).fill(0);
  let goodMs = 0;
  let measuredMs = 0;
  let connectedMs = 0;
  for (const l of legs) {
    if (l.answer === undefined) continue;
    const end = l.end ?? Math.max(l.answer, now);
    const inMonth = Math.max(0, Math.min(end, range.to) - Math.max(l.answer, range.from));
    connectedMs += inMonth;
    spreadOverSlots(l.answer, end, range.dayStarts, dailyMs);
    const packets = l.packetsReceived + l.packetsLost;
    if (packets > 0) {
      measuredMs += inMonth;
      if (l.packetsLost / packets < QUALITY_LOSS_LIMIT) goodMs += inMonth;
    }
  }

  const portDays = peaksPerSlot(ports, range.dayStarts);
  const licenceDays = peaksPerSlot(licences, range.dayStarts);
  const dayNames = range.dayStarts.slice(0, -1).map((t) => dayOf(t, tz));
  const daily = dayNames.map((day, i) => ({ day, minutes: Math.round(dailyMs[i] / 60_000), licencePeak: licenceDays[i], portPeak: portDays[i] }));

  // The chart's day: the capacity peak's (or the one asked for), from its midnight to the next.
  const dayIndex = (t: number) => Math.max(0, range.dayStarts.findIndex((start, i) => t >= start && t < range.dayStarts[i + 1]!));
  let chartIndex = portPeak.at !== undefined ? dayIndex(portPeak.at) : 0;
  if (opts.day !== undefined) {
    const asked = parseDay(opts.day, tz);
    if (asked < range.from || asked >= range.to) throw new InvalidStatsInputError(`day ${opts.day} is not in ${range.month}`);
    chartIndex = dayIndex(asked);
  }
  const chartDay = range.dayStarts[chartIndex]!;
  const chartEnd = range.dayStarts[chartIndex + 1]!;
  const dayCurve = concurrency(portIntervals, { from: chartDay, to: chartEnd });
  // Every three hours of that day, labelled with the zone's wall clock (a 23 or 25 hour day too).
  const hours = Array.from({ length: 9 }, (_, i) => chartDay + i * 3 * 3_600_000)
    .filter((at, i) => i === 8 || at < chartEnd)
    .map((at, i, all) => (i === all.length - 1 ? { at: chartEnd, label: '24:00' } : { at, label: timeOfDay(at, tz) }));
  const labels = dayNames.map((d) => String(Number(d.slice(8))));

  const infra = opts.availability?.uptime(['sip', 'media'], { from: range.from, to: range.to });
  const api = opts.availability?.uptime(['api'], { from: range.from, to: range.to });
  const meetings = opts.cdr.meetings({ from: range.from, to: range.to }).filter((m) => Date.parse(m.opened) >= range.from).length;

  const kpis: MonthlyKpis = {
    uptimeInfrastructurePct: infra?.pct == null ? null : round(infra.pct, 2),
    uptimeApiPct: api?.pct == null ? null : round(api.pct, 2),
    meetings,
    calls: legs.filter((l) => l.start >= range.from && l.start < range.to).length,
    minutes: Math.round(connectedMs / 60_000),
    smsSent: smsCount(opts.smsSentCount, range.from, range.to),
    videoQualityPct: measuredMs > 0 ? round((goodMs / measuredMs) * 100, 2) : null,
    qualityMeasuredMinutes: Math.round(measuredMs / 60_000),
    licencePeak: licencePeak.peak,
    ...(licencePeak.at !== undefined ? { licencePeakAt: new Date(licencePeak.at).toISOString() } : {}),
    capacityPeak: portPeak.peak,
    ...(portPeak.at !== undefined ? { capacityPeakAt: new Date(portPeak.at).toISOString() } : {}),
  };

  return {
    month: range.month,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    generatedAt: new Date(now).toISOString(),
    kpis,
    daily,
    portsDay: dayOf(chartDay, tz),
    charts: {
      portsDay: stepChart({ title: `Concurrent ports ${dayOf(chartDay, tz)} (${tz})`, yLabel: 'ports', curve: dayCurve, xTicks: hours }),
      dailyMinutes: barChart({ title: `Daily minutes ${range.month}`, yLabel: 'minutes', labels, values: daily.map((d) => d.minutes), valueUnit: 'min' }),
      licencesMonth: barChart({ title: `Licence use ${range.month} (peak per day)`, yLabel: 'licences', labels, values: licenceDays }),
    },
  };
}

function pct(v: number | null): string {
  return v === null ? '–' : `${v.toFixed(2)} %`;
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/**
 * The KPI table as the operators publish it: one row per service goal, a column for the
 * requirement and one per month (give several reports for several months).
 */
export function renderKpiTable(reports: readonly MonthlyReport[], opts: { uptimeTargetPct?: number } = {}): string {
  const target = `${(opts.uptimeTargetPct ?? 99.8).toFixed(2)} %`;
  const rows: Array<[string, string, (k: MonthlyKpis) => string]> = [
    ['Uptime – infrastructure', target, (k) => pct(k.uptimeInfrastructurePct)],
    ['Uptime – API', target, (k) => pct(k.uptimeApiPct)],
    ['Meetings', '', (k) => String(k.meetings)],
    ['Calls', '', (k) => String(k.calls)],
    ['Minutes', '', (k) => String(k.minutes)],
    ['SMS sent', '', (k) => String(k.smsSent)],
    ['Video quality (loss < 1 %)', '', (k) => pct(k.videoQualityPct)],
    ['Licence use (peak)', '', (k) => num(k.licencePeak)],
    ['Capacity use (peak ports)', '', (k) => num(k.capacityPeak)],
  ];
  const header = ['Service goal', 'Requirement', ...reports.map((r) => r.month)];
  const body = rows.map(([name, req, value]) => [name, req, ...reports.map((r) => value(r.kpis))]);
  const width = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n') + '\n';
}
