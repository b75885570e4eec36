/**
 * Per-client token buckets, in memory: a burst of `burst` requests, then `perSecond`. One
 * node's API is small enough that a restart forgetting the buckets is harmless; buckets of
 * idle clients are dropped so the map cannot grow without bound.
 */
import type { RateLimitConfig } from './config.js';

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Takes one token for `key`: 0 when allowed, else the whole seconds to wait (>= 1). */
  take(key: string): number {
    const now = this.now();
    if (this.buckets.size > 10_000) this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.config.burst, at: now };
    b.tokens = Math.min(this.config.burst, b.tokens + ((now - b.at) / 1000) * this.config.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.config.perSecond));
  }

  private sweep(now: number): void {
    const full = (this.config.burst / this.config.perSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
  }
}
