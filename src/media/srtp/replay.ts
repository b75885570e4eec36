/**
 * Sliding replay window over packet indices (RFC 3711 §3.3.2): accepts an index once, and
 * only if it is newer than the highest seen or within `size` of it. A bitmap in a ring of
 * 32-bit words keyed by index modulo the (rounded-up) size, so checks cost O(1) and an advance
 * clears at most the window.
 */
export class ReplayWindow {
  /** Highest accepted index, -1 before the first. */
  private top = -1;
  private readonly bits: Uint32Array;
  private readonly ringBits: number;

  constructor(readonly size: number) {
    // Ring of at least size+1 bits, in whole words, so the bit of `top - size` is never aliased.
    this.bits = new Uint32Array(Math.ceil((size + 1) / 32));
    this.ringBits = this.bits.length * 32;
  }

  get highest(): number {
    return this.top;
  }

  /** 'ok', 'seen' (a replay inside the window) or 'old' (left behind by the window). */
  check(index: number): 'ok' | 'seen' | 'old' {
    if (index > this.top) return 'ok';
    if (this.top - index >= this.size) return 'old';
    const bit = index % this.ringBits;
    return (this.bits[bit >>> 5]! >>> (bit & 31)) & 1 ? 'seen' : 'ok';
  }

  /** Marks `index` as received; call only after check() said 'ok' and the packet authenticated. */
  accept(index: number): void {
    if (index > this.top) {
      const advance = this.top < 0 ? Infinity : index - this.top;
      if (advance >= this.ringBits) this.bits.fill(0);
      else for (let i = this.top + 1; i < index; i++) this.clear(i);
      this.top = index;
      this.clear(index);
    }
    const bit = index % this.ringBits;
    this.bits[bit >>> 5]! |= 1 << (bit & 31);
  }

  private clear(index: number): void {
    const bit = index % this.ringBits;
    this.bits[bit >>> 5]! &= ~(1 << (bit & 31));
  }
}
