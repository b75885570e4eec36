/**
 * PER (aligned) primitives and the schema-driven codec, against encodings worked out by hand
 * from X.691; the bit patterns are spelled out in the comments.
 */
import { describe, expect, it } from 'vitest';
import { BOOL, NULL, OID, bits, bmp, choice, decode, encode, f, ia5, int, octets, opt, seq, seqOf } from '../../src/h323/asn.js';
import { H323CodecError } from '../../src/h323/errors.js';
import { PerReader, PerWriter, bitsFor } from '../../src/h323/per.js';

const hex = (b: Buffer) => b.toString('hex');
const write = (fn: (w: PerWriter) => void) => {
  const w = new PerWriter(2);
  fn(w);
  return hex(w.finish());
};

describe('PER constrained whole numbers (X.691 10.5)', () => {
  it('uses the fewest bits for a range up to 255, unaligned', () => {
    expect(bitsFor(1)).toBe(0);
    expect(bitsFor(2)).toBe(1);
    expect(bitsFor(25)).toBe(5);
    expect(bitsFor(255)).toBe(8);
    // 5 in 0..7: '101' → 1010 0000
    expect(write((w) => w.constrained(5, 0, 7, 'x'))).toBe('a0');
    // two fields share an octet: '1' then 3 in 0..3 '11' → 1110 0000
    expect(write((w) => (w.bool(true), w.constrained(3, 0, 3, 'x')))).toBe('e0');
    // a range of one takes no bits at all: the empty encoding is one zero octet
    expect(write((w) => w.constrained(9, 9, 9, 'x'))).toBe('00');
  });

  it('aligns a range of exactly 256 to one octet and up to 64K to two', () => {
    // '1', pad to the octet, 200 → 80 c8
    expect(write((w) => (w.bool(true), w.constrained(200, 0, 255, 'x')))).toBe('80c8');
    // RequestSeqNum 1..65535: value 1 is offset 0 → 80 00 00
    expect(write((w) => (w.bool(true), w.constrained(1, 1, 65535, 'seq')))).toBe('800000');
    expect(write((w) => w.constrained(1720, 0, 65535, 'port'))).toBe('06b8');
  });

  it('encodes larger ranges with an octet count first (TimeToLive 1..4294967295)', () => {
    // 300 - 1 = 299 = 0x012b, two octets: count 2 in 1..4 is '01', pad, 01 2b
    expect(write((w) => w.constrained(300, 1, 4294967295, 'ttl'))).toBe('40012b');
    expect(write((w) => w.constrained(4294967295, 1, 4294967295, 'ttl'))).toBe('c0fffffffe');
    const r = new PerReader(Buffer.from('40012b', 'hex'));
    expect(r.constrained(1, 4294967295, 'ttl')).toBe(300);
  });

  it('refuses values outside the range, on both sides', () => {
    expect(() => write((w) => w.constrained(8, 0, 7, 'three bits'))).toThrow(/three bits: 8 is outside 0\.\.7/);
    expect(() => write((w) => w.constrained(0, 1, 65535, 'seq'))).toThrow(H323CodecError);
    // '111' in a 0..4 field (3 bits) is 7: not a value of the type
    expect(() => new PerReader(Buffer.from('e0', 'hex')).constrained(0, 4, 'five')).toThrow(/7 is outside 0\.\.4/);
  });
});

describe('PER length determinants and normally small numbers', () => {
  it('writes unconstrained lengths in one or two aligned octets', () => {
    expect(write((w) => w.length(5))).toBe('05');
    expect(write((w) => w.length(127))).toBe('7f');
    expect(write((w) => w.length(200))).toBe('80c8');
    expect(write((w) => (w.bool(true), w.length(1)))).toBe('8001');
    expect(() => write((w) => w.length(16384))).toThrow(/fragmentation/);
    expect(new PerReader(Buffer.from('80c8', 'hex')).length('x')).toBe(200);
    expect(() => new PerReader(Buffer.from('c001', 'hex')).length('x')).toThrow(/fragmented/);
  });

  it('writes normally small numbers in 7 bits, larger ones as a semi-constrained number', () => {
    // '0' + 000101
    expect(write((w) => w.normallySmall(5))).toBe('0a');
    // '1', pad, length 1, 64
    expect(write((w) => w.normallySmall(64))).toBe('800140');
    expect(new PerReader(Buffer.from('800140', 'hex')).normallySmall('x')).toBe(64);
  });

  it('wraps open types in a length, an empty encoding being one zero octet', () => {
    expect(write((w) => w.openType(() => {}))).toBe('0100');
    expect(write((w) => w.openType((i) => i.bool(true)))).toBe('0180');
  });

  it('reports truncation as a codec error naming what was read', () => {
    expect(() => new PerReader(Buffer.from('00', 'hex')).constrained(1, 65535, 'requestSeqNum')).toThrow(/truncated: requestSeqNum needs 16 bits/);
    expect(() => new PerReader(Buffer.from('05aa', 'hex')).octets(new PerReader(Buffer.from('05', 'hex')).length('x'), 'data')).toThrow(H323CodecError);
  });
});

describe('PER strings', () => {
  it('encodes dialedDigits with its permitted alphabet as 4-bit indexes (X.691 27.5.4)', () => {
    const digits = ia5(1, 128, '0123456789#*,');
    // length 3 in 1..128: '0000010', pad; sorted alphabet # * , 0 1 … 9: '1'=4 '2'=5 '#'=0
    expect(hex(encode(digits, '12#'))).toBe('044500');
    expect(decode(digits, Buffer.from('044500', 'hex'))).toBe('12#');
    expect(() => encode(digits, '12a')).toThrow(/character "a" is not allowed/);
    expect(() => encode(digits, '')).toThrow(/size 0|outside 1\.\.128/);
  });

  it('encodes IA5String with 8 bits a character, BMPString with 16', () => {
    // url-ID IA5String(1..512): length 2 - 1 = 1 in two aligned octets, then 'h3'
    expect(hex(encode(ia5(1, 512), 'h3'))).toBe('00016833');
    // h323-ID BMPString(1..256): length - 1 in one aligned octet, then UTF-16BE
    expect(hex(encode(bmp(1, 256), 'Å'))).toBe('0000c5');
    // BMPString(1..128): length 2 - 1 in 7 bits '0000001', pad → 02
    expect(decode(bmp(1, 128), Buffer.from('0200610062', 'hex'))).toBe('ab');
  });

  it('encodes octet strings fixed (no length) and bounded (length first), bit strings of 32 bits aligned', () => {
    expect(hex(encode(octets(4, 4), Buffer.from([192, 0, 2, 1])))).toBe('c0000201');
    // productId OCTET STRING (1..256): 5 - 1 in an aligned octet
    expect(hex(encode(octets(1, 256), Buffer.from('knude')))).toBe('046b6e756465');
    expect(hex(encode(octets(), Buffer.from([1, 2])))).toBe('020102');
    expect(hex(encode(bits(32, 32), { length: 32, data: Buffer.from('80000001', 'hex') }))).toBe('80000001');
    expect(() => encode(octets(16, 16), Buffer.alloc(15))).toThrow(/exactly 16 octets/);
  });

  it('encodes OBJECT IDENTIFIERs as a length and the BER contents', () => {
    // 0.0.8.2250.0.7: 0*40+0, 8, 2250 = 0x8ca → 91 4a, 0, 7
    expect(hex(encode(OID, '0.0.8.2250.0.7'))).toBe('060008914a0007');
    expect(decode(OID, Buffer.from('060008914a0004', 'hex'))).toBe('0.0.8.2250.0.4');
    expect(decode(OID, Buffer.from('062a864886f70d', 'hex'))).toBe('1.2.840.113549');
    expect(() => encode(OID, 'not.an.oid')).toThrow(/not an OBJECT IDENTIFIER/);
  });
});

describe('PER sequences with optional bitmaps and extension additions', () => {
  const T = seq('T', [f('a', int(0, 7)), opt('b', BOOL)], true, [opt('c', int(0, 255)), f('d', BOOL)]);
  const T0 = seq('T', [f('a', int(0, 7)), opt('b', BOOL)], true);

  it('puts the extension bit, then the optional bitmap, then the fields', () => {
    // ext 0, b absent 0, a '101' → 0010 1000
    expect(hex(encode(T, { a: 5 }))).toBe('28');
    // ext 0, b present 1, a '101', b '1' → 0110 1100
    expect(hex(encode(T, { a: 5, b: true }))).toBe('6c');
    expect(decode(T, Buffer.from('6c', 'hex'))).toEqual({ a: 5, b: true });
  });

  it('adds a bitmap of additions and each addition as an open type', () => {
    // '1' '0' '101' | count-1 = 1 as '0000001' | bitmap '11' | pad | 01 c8 | 01 80
    expect(hex(encode(T, { a: 5, c: 200, d: true }))).toBe('a81c01c80180');
    // Only c: the bitmap stops at the last addition present, so d (mandatory) may be left out.
    expect(hex(encode(T, { a: 5, c: 200 }))).toBe('a80801c8');
    // d without c: bitmap '01'
    expect(hex(encode(T, { a: 5, d: true }))).toBe('a8140180');
    expect(decode(T, Buffer.from('a81c01c80180', 'hex'))).toEqual({ a: 5, c: 200, d: true });
  });

  it('refuses to leave out a mandatory addition once a later one is present', () => {
    const U = seq('U', [], true, [f('m', BOOL), opt('n', NULL)]);
    expect(() => encode(U, { n: null })).toThrow(/U\.m: missing \(mandatory extension/);
    expect(() => encode(T, { b: true })).toThrow(/T\.a: missing/);
  });

  it('skips additions it does not know by their length, so newer encoders decode', () => {
    expect(decode(T0, Buffer.from('a81c01c80180', 'hex'))).toEqual({ a: 5 });
    // A later version with 70 additions (bitmap length as a semi-constrained number) decodes too.
    const w = new PerWriter();
    w.bool(true); // extension bit
    w.bool(false); // b absent
    w.constrained(5, 0, 7, 'a');
    w.normallySmall(69);
    for (let i = 0; i < 70; i++) w.bool(i === 69);
    w.openType((i) => i.constrained(1, 0, 255, 'future'));
    expect(decode(T0, w.finish())).toEqual({ a: 5 });
    expect(decode(T, w.finish())).toEqual({ a: 5 });
  });

  it('encodes SEQUENCE OF with its count', () => {
    expect(hex(encode(seqOf(int(0, 255)), [1, 2]))).toBe('020102');
    // SIZE(1..16): count - 1 in 4 bits
    expect(hex(encode(seqOf(BOOL, 1, 16), [true, false, true]))).toBe('2a');
    expect(() => encode(seqOf(BOOL, 1, 16), [])).toThrow(/outside 1\.\.16/);
  });
});

describe('PER choices with extension', () => {
  const C = choice('C', [['x', NULL], ['y', int(0, 3)]], true, [['z', ia5(1, 10)]]);
  const C0 = choice('C', [['x', NULL], ['y', int(0, 3)]], true);

  it('encodes root alternatives as an index after the extension bit', () => {
    expect(hex(encode(C, { x: null }))).toBe('00');
    // '0' '1' '10' → 0110 0000
    expect(hex(encode(C, { y: 2 }))).toBe('60');
    expect(decode(C, Buffer.from('60', 'hex'))).toEqual({ y: 2 });
  });

  it('encodes extension alternatives as a normally small index and an open type', () => {
    // '1' + '0000000' | length 2 | 'A': length 0 in 0..9 (4 bits), pad, 41
    expect(hex(encode(C, { z: 'A' }))).toBe('80020041');
    expect(decode(C, Buffer.from('80020041', 'hex'))).toEqual({ z: 'A' });
  });

  it('keeps an unknown alternative as its octets and encodes it back unchanged', () => {
    const v = decode(C0, Buffer.from('80020041', 'hex'));
    expect(v).toEqual({ $unknown: { index: 0, data: Buffer.from('0041', 'hex') } });
    expect(hex(encode(C0, v))).toBe('80020041');
  });

  it('refuses what is not one alternative', () => {
    expect(() => encode(C, { x: null, y: 1 })).toThrow(/exactly one alternative/);
    expect(() => encode(C, { w: 1 })).toThrow(/"w" is not an alternative of C/);
    expect(() => encode(choice('N', [['a', NULL]], false), { $unknown: { index: 0, data: Buffer.alloc(1) } })).toThrow(/not extensible/);
  });
});

describe('decoding hostile input', () => {
  it('never throws anything but H323CodecError, and never loops on huge counts', () => {
    const T = seq('T', [f('list', seqOf(seq('E', [opt('x', int(0, 255))], true))), f('s', bmp(1, 128))], true);
    const inputs = ['', '00', 'ff', '7fff', 'ffffffffffffffff', '8000', '3fffffff', '017f'];
    for (let n = 0; n < 300; n++) inputs.push(Buffer.from(Array.from({ length: (n % 17) + 1 }, (_, i) => (n * 7919 + i * 104729) & 0xff)).toString('hex'));
    for (const h of inputs) {
      try {
        decode(T, Buffer.from(h, 'hex'));
      } catch (err) {
        expect(err, h).toBeInstanceOf(H323CodecError);
      }
    }
  });
});
