/**
 * The sweep line that gives port and licence peaks: half-open intervals, zero-length legs,
 * open legs, windows cutting legs at midnight and month borders, and a check against a
 * brute-force count on random intervals.
 */
import { describe, expect, it } from 'vitest';
import { concurrency, overlapMs, peakOf, peaksPerSlot, spreadOverSlots, uniformBounds, type Interval } from '../../src/stats/intervals.js';

const H = 3_600_000;
const DAY = 24 * H;

/** Concurrency at instant t by definition: [start, end) plus zero-length intervals at their instant. */
function countAt(intervals: Interval[], t: number): number {
  let n = 0;
  for (const iv of intervals) {
    const end = iv.end ?? Infinity;
    const w = iv.weight ?? 1;
    if (end === iv.start ? t === iv.start : iv.start <= t && t < end) n += w;
  }
  return n;
}

/** The peak by brute force: the count at every start within the window and at its start. */
function brutePeak(intervals: Interval[], from: number, to: number): number {
  const instants = [from, ...intervals.map((i) => i.start).filter((t) => t >= from && t < to)];
  return Math.max(...instants.map((t) => countAt(intervals, t)));
}

describe('concurrency sweep line', () => {
  it('does not count a leg that ends at t together with one that starts at t', () => {
    const curve = concurrency([{ start: 0, end: 10 }, { start: 10, end: 20 }], { from: 0, to: 100 });
    expect(peakOf(curve)).toEqual({ peak: 1, at: 0 });
  });

  it('counts overlapping legs and reports when the peak was first reached', () => {
    const curve = concurrency(
      [
        { start: 0, end: 50 },
        { start: 10, end: 40 },
        { start: 20, end: 30 },
        { start: 60, end: 90 },
        { start: 70, end: 80 },
      ],
      { from: 0, to: 100 },
    );
    expect(peakOf(curve)).toEqual({ peak: 3, at: 20 });
    expect(curve.steps.at(-1)).toEqual({ at: 90, peak: 0, value: 0 });
  });

  it('counts a zero-length leg at its instant, alone and on top of others', () => {
    expect(peakOf(concurrency([{ start: 5, end: 5 }], { from: 0, to: 10 }))).toEqual({ peak: 1, at: 5 });
    const curve = concurrency([{ start: 0, end: 10 }, { start: 5, end: 5 }, { start: 10, end: 10 }], { from: 0, to: 20 });
    expect(peakOf(curve).peak).toBe(2);
    // after the spike the level falls back to the one leg
    expect(curve.steps.find((s) => s.at === 5)).toEqual({ at: 5, peak: 2, value: 1 });
    // the leg ending at 10 is gone when the zero-length one at 10 happens
    expect(curve.steps.find((s) => s.at === 10)).toEqual({ at: 10, peak: 1, value: 0 });
    // a zero-length leg exactly at the window start counts; one just before it does not
    expect(peakOf(concurrency([{ start: 0, end: 0 }], { from: 0, to: 10 })).peak).toBe(1);
    expect(peakOf(concurrency([{ start: -1, end: -1 }], { from: 0, to: 10 })).peak).toBe(0);
  });

  it('cuts legs at the window: those running at its start count from the start, those ending at it do not', () => {
    const from = 10 * DAY;
    const curve = concurrency(
      [
        { start: from - H, end: from + H }, // crosses midnight into the window
        { start: from - H, end: from }, // ends exactly at the window start
        { start: from + 23 * H, end: from + 25 * H }, // crosses midnight out of it
        { start: from + DAY, end: from + DAY + H }, // starts at the window end
      ],
      { from, to: from + DAY },
    );
    expect(curve.initial).toBe(1);
    expect(peakOf(curve)).toEqual({ peak: 1, at: from });
    expect(curve.steps.map((s) => s.at)).toEqual([from + H, from + 23 * H]);
  });

  it('treats a leg without an end as still open', () => {
    const curve = concurrency([{ start: 0 }, { start: 5, end: 8 }, { start: -5 }], { from: 0, to: 10 });
    expect(curve.initial).toBe(1);
    expect(peakOf(curve)).toEqual({ peak: 3, at: 5 });
    expect(curve.steps.at(-1)!.value).toBe(2);
  });

  it('weights licence units, fractions included, without floating-point residue', () => {
    const curve = concurrency(
      [
        { start: 0, end: 10, weight: 0.1 },
        { start: 0, end: 10, weight: 0.2 },
        { start: 2, end: 4, weight: 3 },
        { start: 3, end: 9, weight: 0 },
      ],
      { from: 0, to: 20 },
    );
    expect(peakOf(curve)).toEqual({ peak: 3.3, at: 2 });
    expect(curve.steps.at(-1)!.value).toBe(0);
  });

  it('gives the peak of each day, with legs crossing midnight counted on both days', () => {
    const from = 0;
    const intervals: Interval[] = [
      { start: 22 * H, end: 26 * H }, // day 0 → day 1
      { start: 23 * H, end: 23 * H + 1 },
      { start: DAY + 5 * H, end: DAY + 5 * H }, // zero length on day 1
      { start: 2 * DAY + H, end: 2 * DAY + 2 * H },
    ];
    const curve = concurrency(intervals, { from, to: 4 * DAY });
    // day 1: the leg from day 0 until 02:00, then the zero-length one at 05:00 alone
    expect(peaksPerSlot(curve, uniformBounds(0, 4 * DAY, DAY))).toEqual([2, 1, 1, 0]);
  });

  it('matches a brute-force count on random intervals', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const intervals: Interval[] = Array.from({ length: 1 + rnd(40) }, () => {
        const start = rnd(200) - 50;
        const kind = rnd(10);
        return kind === 0 ? { start } : { start, end: kind === 1 ? start : start + rnd(60), weight: 1 + rnd(3) };
      });
      const curve = concurrency(intervals, { from: 0, to: 100 });
      expect(peakOf(curve).peak, JSON.stringify(intervals)).toBe(brutePeak(intervals, 0, 100));
      const slots = peaksPerSlot(curve, uniformBounds(0, 100, 25));
      slots.forEach((p, i) => expect(p).toBe(brutePeak(intervals, i * 25, (i + 1) * 25)));
    }
  });
});

describe('time spread over slots', () => {
  it('splits a span at slot borders and ignores what lies outside the window', () => {
    const days = [0, 0, 0];
    const bounds = uniformBounds(0, 3 * DAY, DAY);
    spreadOverSlots(DAY - H, DAY + 2 * H, bounds, days);
    spreadOverSlots(-H, H, bounds, days); // began before the window
    spreadOverSlots(3 * DAY - H, 3 * DAY + H, bounds, days); // runs past it
    expect(days).toEqual([2 * H, 2 * H, H]);
    // Slots of unequal length (a 23-hour day when the clocks go forward).
    const uneven = [0, 0];
    spreadOverSlots(22 * H, 25 * H, [0, 23 * H, 47 * H], uneven);
    expect(uneven).toEqual([H, 2 * H]);
    expect(overlapMs(0, 10, 5, 20)).toBe(5);
    expect(overlapMs(0, 10, 10, 20)).toBe(0);
  });
});
