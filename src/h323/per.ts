/**
 * ASN.1 Packed Encoding Rules, ALIGNED variant (ITU-T X.691), the primitives H.225.0 RAS needs:
 * bit fields, octet alignment, constrained/semi-constrained whole numbers, length
 * determinants, normally small numbers, and open types. Section numbers refer to X.691 (2015).
 *
 * Only what RAS uses is here: no fragmented lengths (>= 16K, a RAS datagram never gets there),
 * no REAL, no unaligned variant. Reading never trusts a length: every read is bounds-checked and
 * fails with a PerError naming what was being read.
 */
import { H323CodecError } from './errors.js';

/** Largest range for which a constrained whole number is a bit field or one/two octets (10.5.7). */
const K64 = 65536;

/** Bits needed for a value in 0..range-1 (range >= 1). */
export function bitsFor(range: number): number {
  let bits = 0;
  while (2 ** bits < range) bits++;
  return bits;
}

/** Octets needed for a non-negative value (at least one). */
function octetsFor(value: number): number {
  let n = 1;
  while (value >= 2 ** (8 * n)) n++;
  return n;
}

export class PerWriter {
  private buf: Buffer;
  /** Position in bits. */
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.alloc(initialBytes);
  }

  private ensure(bits: number): void {
    const need = Math.ceil((this.pos + bits) / 8);
    if (need <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(need, this.buf.length * 2));
    this.buf.copy(next);
    this.buf = next;
  }

  get bitLength(): number {
    return this.pos;
  }

  /** Writes `count` (0..32) low bits of value, most significant first. */
  bits(value: number, count: number): void {
    if (count === 0) return;
    this.ensure(count);
    for (let i = count - 1; i >= 0; i--) {
      const bit = Math.floor(value / 2 ** i) % 2;
      if (bit) this.buf[this.pos >> 3] = this.buf[this.pos >> 3]! | (0x80 >> (this.pos & 7));
      this.pos++;
    }
  }

  bool(v: boolean): void {
    this.bits(v ? 1 : 0, 1);
  }

  /** Pads with zero bits to the next octet boundary (ALIGNED variant). */
  align(): void {
    this.pos = (this.pos + 7) & ~7;
    this.ensure(0);
  }

  /** Writes whole octets at the current (aligned) position. */
  octets(data: Uint8Array): void {
    if (this.pos & 7) throw new H323CodecError('internal: octets written at an unaligned position');
    this.ensure(data.length * 8);
    this.buf.set(data, this.pos >> 3);
    this.pos += data.length * 8;
  }

  /** 10.5: a constrained whole number lb..ub. */
  constrained(value: number, lb: number, ub: number, what: string): void {
    if (!Number.isInteger(value) || value < lb || value > ub) throw new H323CodecError(`${what}: ${value} is outside ${lb}..${ub}`);
    const range = ub - lb + 1;
    const v = value - lb;
    if (range === 1) return;
    if (range <= 255) return this.bits(v, bitsFor(range));
    if (range === 256) {
      this.align();
      return this.bits(v, 8);
    }
    if (range <= K64) {
      this.align();
      return this.bits(v, 16);
    }
    // 10.5.7.4 indefinite-length case: the octet count as a constrained number, then the octets.
    const n = octetsFor(v);
    this.constrained(n, 1, octetsFor(range - 1), `${what} (length)`);
    this.align();
    this.bits(v, 8 * n);
  }

  /** 10.6: a normally small non-negative whole number (choice extension index, bitmap length). */
  normallySmall(value: number): void {
    if (value <= 63) {
      this.bits(0, 1);
      this.bits(value, 6);
      return;
    }
    this.bits(1, 1);
    this.semiConstrained(value, 0);
  }

  /** 10.7: a semi-constrained whole number (lb..), as length + octets. */
  semiConstrained(value: number, lb: number): void {
    const v = value - lb;
    const n = octetsFor(v);
    this.length(n);
    this.bits(v, 8 * n);
  }

  /** 10.9.3.5-8: an unconstrained length determinant (aligned). Fragmentation is not supported. */
  length(n: number): void {
    this.align();
    if (n < 128) return this.bits(n, 8);
    if (n < 16384) return this.bits(0x8000 | n, 16);
    throw new H323CodecError(`length ${n} needs fragmentation, which RAS never uses`);
  }

  /** A length with PER-visible size bounds (ub < 64K): a constrained number, or nothing if fixed. */
  boundedLength(n: number, lb: number, ub: number | undefined, what: string): void {
    if (ub === undefined || ub >= K64) {
      if (n < lb) throw new H323CodecError(`${what}: size ${n} is below ${lb}`);
      return this.length(n);
    }
    this.constrained(n, lb, ub, `${what} size`);
  }

  /** 11.2 open type: the complete encoding of a value, as an unconstrained length and octets. */
  openType(encode: (w: PerWriter) => void): void {
    const inner = new PerWriter(64);
    encode(inner);
    const bytes = inner.finish();
    this.length(bytes.length);
    this.octets(bytes);
  }

  /** The encoding so far, padded to whole octets; an empty encoding is one zero octet (11.1). */
  finish(): Buffer {
    if (this.pos === 0) return Buffer.from([0]);
    return Buffer.from(this.buf.subarray(0, Math.ceil(this.pos / 8)));
  }
}

export class PerReader {
  private pos = 0;
  private readonly limit: number;

  constructor(private readonly buf: Uint8Array) {
    this.limit = buf.length * 8;
  }

  get bitPosition(): number {
    return this.pos;
  }

  get remainingBits(): number {
    return this.limit - this.pos;
  }

  private need(bits: number, what: string): void {
    if (this.pos + bits > this.limit) {
      throw new H323CodecError(`truncated: ${what} needs ${bits} bits at bit ${this.pos}, ${this.limit - this.pos} left`);
    }
  }

  bits(count: number, what = 'bit field'): number {
    this.need(count, what);
    let v = 0;
    for (let i = 0; i < count; i++) {
      const bit = (this.buf[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
      v = v * 2 + bit;
      this.pos++;
    }
    return v;
  }

  bool(what = 'boolean'): boolean {
    return this.bits(1, what) === 1;
  }

  align(): void {
    this.pos = Math.min((this.pos + 7) & ~7, Math.max(this.pos, this.limit));
  }

  octets(n: number, what = 'octets'): Buffer {
    if (this.pos & 7) throw new H323CodecError('internal: octets read at an unaligned position');
    this.need(n * 8, what);
    const start = this.pos >> 3;
    this.pos += n * 8;
    return Buffer.from(this.buf.subarray(start, start + n));
  }

  constrained(lb: number, ub: number, what: string): number {
    const range = ub - lb + 1;
    if (range === 1) return lb;
    let v: number;
    if (range <= 255) v = this.bits(bitsFor(range), what);
    else if (range === 256) {
      this.align();
      v = this.bits(8, what);
    } else if (range <= K64) {
      this.align();
      v = this.bits(16, what);
    } else {
      const n = this.constrained(1, octetsFor(range - 1), `${what} (length)`);
      this.align();
      v = this.bits(8 * n, what);
    }
    if (v + lb > ub) throw new H323CodecError(`${what}: ${v + lb} is outside ${lb}..${ub}`);
    return v + lb;
  }

  normallySmall(what: string): number {
    if (this.bits(1, what) === 0) return this.bits(6, what);
    return this.semiConstrained(0, what);
  }

  semiConstrained(lb: number, what: string): number {
    const n = this.length(what);
    if (n < 1 || n > 6) throw new H323CodecError(`${what}: a ${n}-octet whole number is not supported`);
    return this.bits(8 * n, what) + lb;
  }

  length(what: string): number {
    this.align();
    const first = this.bits(8, `${what} length`);
    if ((first & 0x80) === 0) return first;
    if ((first & 0xc0) === 0x80) return ((first & 0x3f) << 8) | this.bits(8, `${what} length`);
    throw new H323CodecError(`${what}: fragmented length, which RAS never uses`);
  }

  boundedLength(lb: number, ub: number | undefined, what: string): number {
    if (ub === undefined || ub >= K64) {
      const n = this.length(what);
      if (n < lb) throw new H323CodecError(`${what}: size ${n} is below ${lb}`);
      return n;
    }
    return this.constrained(lb, ub, `${what} size`);
  }

  /** Reads an open type's octets; `decode` gets a reader over exactly them. */
  openType<T>(what: string, decode: (r: PerReader) => T): T {
    const n = this.length(what);
    const inner = this.octets(n, what);
    return decode(new PerReader(inner));
  }

  /** Skips an open type (an extension this codec does not know), returning its octets. */
  skipOpenType(what: string): Buffer {
    const n = this.length(what);
    return this.octets(n, what);
  }
}
