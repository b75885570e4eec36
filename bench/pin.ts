/**
 * `npm run bench -- pin`: what checking meeting PINs does to the rest of the process. knude
 * relays media on the same event loop that admits participants, so a join that hashes its
 * PIN there holds every leg's packets back. A 20 ms timer stands in for a leg's packet clock
 * and its lateness is recorded while JOIN_RATE joins/s, each with a wrong PIN (both of the
 * room's hashes computed, as for a guessing caller), are checked for SECONDS:
 *  - baseline: the PIN hashed on the event loop (pinMatchesSync for host and guest, as room
 *    joins did before);
 *  - knude: pinRole(), which hashes on libuv's thread pool.
 * The cases alternate within each of ROUNDS rounds; the table shows medians over the rounds.
 *
 * ratio = p99 timer lateness with pinRole ÷ p99 lateness with hashing on the event loop
 * (lower is better).
 */
import { hashPin, pinMatchesSync, pinRole } from '../src/rooms/pins.js';
import { median, percentile } from './_stats.js';
import type { BenchResult } from './types.js';

const JOIN_RATE = 20;
const SECONDS = 3;
const ROUNDS = 5;
const TICK_MS = 20;

const room = { hostPin: hashPin('987654'), guestPin: hashPin('123456') };

type Check = (pin: string) => Promise<unknown>;

const onEventLoop: Check = async (pin) => (pinMatchesSync(room.hostPin, pin) ? 'host' : pinMatchesSync(room.guestPin, pin) ? 'guest' : null);
const onThreadPool: Check = (pin) => pinRole(room, pin);

interface Sample {
  lateP50: number;
  lateP99: number;
  lateMax: number;
  checkMedianMs: number;
  checked: number;
}

/** One case for SECONDS: the packet clock's lateness and each check's latency, in ms. */
async function measure(check: Check): Promise<Sample> {
  const late: number[] = [];
  const latency: number[] = [];
  let expected = performance.now() + TICK_MS;
  const clock = setInterval(() => {
    const now = performance.now();
    late.push(Math.max(0, now - expected));
    expected = now + TICK_MS;
  }, TICK_MS);
  const pending: Array<Promise<void>> = [];
  const joins = setInterval(() => {
    const started = performance.now();
    pending.push(
      check('000000').then((role) => {
        if (role !== null) throw new Error('a wrong PIN was accepted');
        latency.push(performance.now() - started);
      }),
    );
  }, 1000 / JOIN_RATE);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(joins);
  await Promise.all(pending);
  clearInterval(clock);
  if (late.length === 0 || latency.length === 0) throw new Error('nothing was measured');
  return { lateP50: percentile(late, 0.5), lateP99: percentile(late, 0.99), lateMax: Math.max(...late), checkMedianMs: median(latency), checked: latency.length };
}

export async function run(): Promise<BenchResult> {
  const cases = { 'event loop (scryptSync)': onEventLoop, 'thread pool (pinRole)': onThreadPool } as const;
  const samples = new Map<string, Sample[]>(Object.keys(cases).map((k) => [k, []]));
  const ratios: number[] = [];
  await onThreadPool('000000'); // warm the thread pool
  for (let round = 0; round < ROUNDS; round++) {
    const got: Record<string, Sample> = {};
    for (const [name, check] of Object.entries(cases)) {
      got[name] = await measure(check);
      samples.get(name)!.push(got[name]);
    }
    ratios.push(got['thread pool (pinRole)']!.lateP99 / Math.max(got['event loop (scryptSync)']!.lateP99, 0.001));
  }
  const rows = [...samples].map(([name, s]) => ({
    case: name,
    'joins/s': JOIN_RATE,
    'checks done': median(s.map((x) => x.checked)),
    'check median ms': median(s.map((x) => x.checkMedianMs)).toFixed(1),
    'clock late p50 ms': median(s.map((x) => x.lateP50)).toFixed(2),
    'clock late p99 ms': median(s.map((x) => x.lateP99)).toFixed(2),
    'clock late max ms': median(s.map((x) => x.lateMax)).toFixed(2),
  }));
  return {
    name: 'pin',
    rows,
    ratio: median(ratios),
    ratioLabel: 'p99 lateness of a 20 ms packet clock with PINs hashed on the thread pool ÷ hashed on the event loop (lower is better)',
  };
}
