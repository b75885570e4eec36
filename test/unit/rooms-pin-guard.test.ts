import { describe, expect, it } from 'vitest';
import { PinGuard } from '../../src/rooms/pin-guard.js';

describe('PinGuard', () => {
  const make = () => {
    let now = 1_000_000;
    const guard = new PinGuard({ maxFailures: 3, windowMs: 60_000, now: () => now });
    return { guard, advance: (ms: number) => (now += ms) };
  };

  it('lets an address get maxFailures PINs wrong, then refuses it until the oldest is a window old', () => {
    const { guard, advance } = make();
    guard.failed('akut', '192.0.2.7');
    advance(10_000);
    guard.failed('akut', '192.0.2.7');
    expect(guard.lockedFor('akut', '192.0.2.7')).toBe(0);
    advance(10_000);
    guard.failed('akut', '192.0.2.7');
    // The oldest wrong PIN was 20 s ago: 40 s to go.
    expect(guard.lockedFor('akut', '192.0.2.7')).toBe(40_000);
    advance(39_999);
    expect(guard.lockedFor('akut', '192.0.2.7')).toBe(1);
    advance(1);
    // One more try now; a wrong one locks again until the next oldest is a window old.
    expect(guard.lockedFor('akut', '192.0.2.7')).toBe(0);
    guard.failed('akut', '192.0.2.7');
    expect(guard.lockedFor('akut', '192.0.2.7')).toBe(10_000);
  });

  it('counts per room and per address', () => {
    const { guard } = make();
    for (let i = 0; i < 3; i++) guard.failed('akut', '192.0.2.7');
    expect(guard.lockedFor('akut', '192.0.2.7')).toBeGreaterThan(0);
    expect(guard.lockedFor('ward', '192.0.2.7')).toBe(0);
    expect(guard.lockedFor('akut', '192.0.2.8')).toBe(0);
  });

  it('forgets wrong PINs older than the window', () => {
    const { guard, advance } = make();
    guard.failed('akut', '192.0.2.7');
    guard.failed('akut', '192.0.2.7');
    advance(60_001);
    guard.failed('akut', '192.0.2.7');
    expect(guard.lockedFor('akut', '192.0.2.7')).toBe(0);
  });
});
