/**
 * Exact concurrency from intervals by a sweep line. An interval [start, end) occupies its weight
 * (1 for a port, the licence units for licences) from start until just before end: a leg that
 * ends at t and one that starts at t never count together. A zero-length interval (a leg refused
 * or cancelled within the same millisecond) still held its port at that instant, so it counts at
 * its one instant. An interval without an end is still open and lasts past any window.
 */

export interface Interval {
  /** Epoch ms. */
  start: number;
  /** Epoch ms; undefined while the interval is still open. */
  end?: number;
  /** Default 1. */
  weight?: number;
}

/**
 * The concurrency curve within a window as steps. The value before the first step is
 * `initial`; at each step's time, `peak` is reached (starts counted, zero-length intervals
 * included), then the value settles at `value` until the next step.
 */
export interface ConcurrencyCurve {
  from: number;
  to: number;
  initial: number;
  steps: Array<{ at: number; peak: number; value: number }>;
}

/** Sums of floating weights (0.5 licence units) are rounded so 0.1+0.2 does not show. */
function tidy(n: number): number {
  const r = Math.round(n * 1e6) / 1e6;
  return r === 0 ? 0 : r; // never -0
}

export function concurrency(intervals: Iterable<Interval>, window: { from: number; to: number }): ConcurrencyCurve {
  const { from, to } = window;
  let initial = 0;
  // time → [ends of positive-length intervals, starts, ends of zero-length intervals]
  const events = new Map<number, [number, number, number]>();
  const at = (t: number) => {
    let e = events.get(t);
    if (!e) events.set(t, (e = [0, 0, 0]));
    return e;
  };
  for (const iv of intervals) {
    const w = iv.weight ?? 1;
    const end = iv.end ?? Infinity;
    if (w === 0 || iv.start >= to || end < from || (end === from && iv.start < from)) continue;
    if (iv.start < from) initial += w;
    else if (end === iv.start) {
      const e = at(iv.start);
      e[1] += w;
      e[2] += w;
      continue;
    } else at(iv.start)[1] += w;
    if (end < to) at(end)[0] += w;
  }
  const steps: ConcurrencyCurve['steps'] = [];
  let value = tidy(initial);
  for (const t of [...events.keys()].sort((a, b) => a - b)) {
    const [ends, starts, zeroEnds] = events.get(t)!;
    const peak = tidy(value - ends + starts);
    value = tidy(peak - zeroEnds);
    steps.push({ at: t, peak, value });
  }
  return { from, to, initial: tidy(initial), steps };
}

/** The highest concurrency in the curve's window and the first time it was reached. */
export function peakOf(curve: ConcurrencyCurve, from = curve.from, to = curve.to): { peak: number; at: number | undefined } {
  let value = curve.initial;
  let i = 0;
  for (; i < curve.steps.length && curve.steps[i].at < from; i++) value = curve.steps[i].value;
  // A step exactly at `from` replaces the carried level: legs ending at `from` are gone by then.
  if (i < curve.steps.length && curve.steps[i].at === from) value = -Infinity;
  let best = Math.max(value, 0);
  let bestAt: number | undefined = value > 0 ? from : undefined;
  for (; i < curve.steps.length && curve.steps[i].at < to; i++) {
    const s = curve.steps[i];
    if (s.peak > best) {
      best = s.peak;
      bestAt = s.at;
    }
  }
  return { peak: best, at: bestAt };
}

/** Peak concurrency of each slot between consecutive `bounds` (e.g. the days of a month). */
export function peaksPerSlot(curve: ConcurrencyCurve, bounds: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(peakOf(curve, bounds[i]!, bounds[i + 1]!).peak);
  return out;
}

/** Slot boundaries of equal width from `from` up to `to` (the last slot may be shorter). */
export function uniformBounds(from: number, to: number, slotMs: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += slotMs) out.push(t);
  out.push(to);
  return out;
}

/** Milliseconds of [start, end) that fall within [from, to). */
export function overlapMs(start: number, end: number, from: number, to: number): number {
  return Math.max(0, Math.min(end, to) - Math.max(start, from));
}

/** Each slot's share of [start, end), for the slots between consecutive `bounds` (ascending). */
export function spreadOverSlots(start: number, end: number, bounds: readonly number[], into: number[]): void {
  const a = Math.max(start, bounds[0]!);
  const b = Math.min(end, bounds[bounds.length - 1]!);
  if (b <= a) return;
  for (let i = 0; i + 1 < bounds.length && i < into.length; i++) {
    if (bounds[i]! >= b) break;
    into[i] += overlapMs(a, b, bounds[i]!, bounds[i + 1]!);
  }
}
