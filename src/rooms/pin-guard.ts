/**
 * PIN guessing protection across calls: a SIP endpoint gets a few PIN tries per call and a
 * browser one per join, but both can call again. One network address may get at most
 * `maxFailures` PINs wrong for one room in any `windowMs`: after that it may not try a PIN for
 * that room until the oldest of those wrong PINs is `windowMs` old. With 10 per 10 minutes a
 * six-digit PIN takes years to guess from one address, instead of hours.
 *
 * Keyed by room and address, not address alone: many people share one address behind a
 * hospital's NAT, and a lockout there should stop one room's guessing, not every meeting.
 * Right PINs do not clear the count: someone who knows the guest PIN must not be able to
 * go on guessing the host PIN between joins. In memory: a restart forgets it, which costs
 * a guesser only one more round of tries.
 */

export interface PinGuardOptions {
  maxFailures: number;
  windowMs: number;
  now?: () => number;
}

interface Record {
  /** Times of the last maxFailures wrong PINs still within the window, oldest first. */
  failures: number[];
}

/** How much longer an address is locked out of a room's PIN, or 0 when it may try. */
export class PinGuard {
  private readonly records = new Map<string, Record>();
  private readonly now: () => number;

  constructor(private readonly opts: PinGuardOptions) {
    this.now = opts.now ?? (() => Date.now());
  }

  /** Milliseconds until `address` may try a PIN for `roomId` again; 0: now. */
  lockedFor(roomId: string, address: string): number {
    const r = this.current(`${roomId}\u0000${address}`);
    if (!r || r.failures.length < this.opts.maxFailures) return 0;
    return Math.max(0, r.failures[0]! + this.opts.windowMs - this.now());
  }

  /** A wrong PIN for `roomId` from `address`. */
  failed(roomId: string, address: string): void {
    const key = `${roomId}\u0000${address}`;
    const r = this.current(key) ?? { failures: [] };
    r.failures.push(this.now());
    // Only the last maxFailures matter to a lockout.
    if (r.failures.length > this.opts.maxFailures) r.failures.splice(0, r.failures.length - this.opts.maxFailures);
    this.records.set(key, r);
    if (this.records.size > 100_000) this.sweep();
  }

  /** The record with its expired failures dropped (undefined when none is left). */
  private current(key: string): Record | undefined {
    const r = this.records.get(key);
    if (!r) return undefined;
    const since = this.now() - this.opts.windowMs;
    while (r.failures.length > 0 && r.failures[0]! <= since) r.failures.shift();
    if (r.failures.length === 0) {
      this.records.delete(key);
      return undefined;
    }
    return r;
  }

  private sweep(): void {
    for (const key of [...this.records.keys()]) this.current(key);
  }
}
