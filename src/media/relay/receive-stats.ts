/**
 * What we receive from one endpoint stream: packets, loss and interarrival jitter as RFC 3550
 * A.1, A.3 and A.8 define them, so the numbers in our CDRs and in the receiver reports we send
 * mean what the endpoint's own statistics mean.
 */
import type { ReportBlock } from './rtp.js';

export class ReceiveStats {
  packets = 0;
  bytes = 0;
  private ssrc = 0;
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private transit: number | undefined;
  /** Jitter in timestamp units, scaled by 16 as in RFC 3550 A.8. */
  private jitterQ4 = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;

  constructor(private readonly clockRate: number) {}

  /** One authenticated packet; arrivalMs from a monotonic clock. */
  update(ssrc: number, seq: number, timestamp: number, bytes: number, arrivalMs: number): void {
    if (!this.started || ssrc !== this.ssrc) {
      // A new source (the endpoint restarted its stream): statistics start over for it.
      this.started = true;
      this.ssrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.transit = undefined;
      this.jitterQ4 = 0;
      this.expectedPrior = 0;
      this.receivedPrior = 0;
      this.packets = 0;
    }
    this.packets++;
    this.bytes += bytes;
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
    }
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.transit !== undefined) {
      let d = transit - this.transit;
      if (d < 0) d = -d;
      // Timestamps wrap at 2^32; a jump that large is a wrap or a new stream, not jitter.
      if (d < this.clockRate * 10) this.jitterQ4 += d - ((this.jitterQ4 + 8) >> 4);
    }
    this.transit = transit;
  }

  /** The SSRC of the stream, once a packet came. */
  get source(): number | undefined {
    return this.started ? this.ssrc : undefined;
  }

  get expected(): number {
    return this.started ? this.cycles + this.maxSeq - this.baseSeq + 1 : 0;
  }

  /** Cumulative lost (negative with duplicates, as RFC 3550 allows). */
  get lost(): number {
    return this.expected - this.packets;
  }

  get jitterMs(): number {
    return ((this.jitterQ4 >> 4) * 1000) / this.clockRate;
  }

  /** A report block for our next RTCP report; advances the interval counters. */
  reportBlock(): ReportBlock | undefined {
    if (!this.started) return undefined;
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.packets - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.packets;
    const lostInterval = expectedInterval - receivedInterval;
    return {
      ssrc: this.ssrc,
      fractionLost: expectedInterval <= 0 || lostInterval <= 0 ? 0 : lostInterval / expectedInterval,
      cumulativeLost: this.lost,
      highestSequence: (this.cycles + this.maxSeq) >>> 0,
      jitter: this.jitterQ4 >> 4,
    };
  }
}
