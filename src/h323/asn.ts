/**
 * A small schema language for the ASN.1 types of H.225.0 RAS and one PER (aligned) encoder and
 * decoder that walks it. The schema (ras-schema.ts) is transcribed by hand from the H.225.0 v7
 * ASN.1; this file knows nothing about RAS.
 *
 * Values: INTEGER → number, BOOLEAN → boolean, NULL → null, OCTET STRING → Buffer, BIT STRING →
 * {length, data}, character strings → string, OBJECT IDENTIFIER → '0.0.8.2250.0.7', SEQUENCE →
 * object (absent OPTIONAL fields are missing), SEQUENCE OF → array, CHOICE → an object with
 * exactly one key, the alternative's name.
 *
 * Extensibility, so newer endpoints decode: extension additions and extension alternatives
 * travel as open types (a length and octets), so an addition this schema does not know is
 * skipped by its length, and one it lists but does not model ({t:'open'}) is kept as its octets
 * and re-encoded unchanged. An unknown CHOICE alternative decodes as {$unknown: {index, data}}.
 */
import { H323CodecError } from './errors.js';
import { PerReader, PerWriter } from './per.js';

export interface Field {
  name: string;
  type: AsnType;
  optional?: boolean;
}

export type Alt = [name: string, type: AsnType];

export type AsnType =
  | { t: 'null' }
  | { t: 'bool' }
  | { t: 'int'; lb: number; ub: number; ext?: boolean }
  | { t: 'integer' }
  | { t: 'octets'; lb?: number; ub?: number }
  | { t: 'bits'; lb?: number; ub?: number }
  | { t: 'chars'; kind: 'ia5' | 'printable' | 'bmp'; lb?: number; ub?: number; alphabet?: string }
  | { t: 'oid' }
  | { t: 'seq'; name: string; fields: Field[]; ext: boolean; additions?: Field[] }
  | { t: 'seqOf'; item: AsnType; lb?: number; ub?: number }
  | { t: 'choice'; name: string; alts: Alt[]; ext: boolean; additions?: Alt[] }
  | { t: 'open'; name: string }
  | { t: 'ref'; name: string; get: () => AsnType };

export interface BitString {
  length: number;
  data: Buffer;
}

export interface UnknownAlternative {
  index: number;
  data: Buffer;
}

// ---- constructors, so the schema reads like the ASN.1 ---------------------------------------

export const NULL: AsnType = { t: 'null' };
export const BOOL: AsnType = { t: 'bool' };
export const OID: AsnType = { t: 'oid' };
export const int = (lb: number, ub: number, ext = false): AsnType => ({ t: 'int', lb, ub, ext });
/** An unconstrained INTEGER (H.235 RandomVal): a length and two's-complement octets. */
export const INTEGER: AsnType = { t: 'integer' };
export const octets = (lb?: number, ub?: number): AsnType => ({ t: 'octets', lb, ub });
export const bits = (lb?: number, ub?: number): AsnType => ({ t: 'bits', lb, ub });
export const ia5 = (lb?: number, ub?: number, alphabet?: string): AsnType => ({ t: 'chars', kind: 'ia5', lb, ub, alphabet });
export const printable = (lb?: number, ub?: number): AsnType => ({ t: 'chars', kind: 'printable', lb, ub });
export const bmp = (lb?: number, ub?: number): AsnType => ({ t: 'chars', kind: 'bmp', lb, ub });
export const seqOf = (item: AsnType, lb?: number, ub?: number): AsnType => ({ t: 'seqOf', item, lb, ub });
export const open = (name: string): AsnType => ({ t: 'open', name });
export const ref = (name: string, get: () => AsnType): AsnType => ({ t: 'ref', name, get });
/** A mandatory field. */
export const f = (name: string, type: AsnType): Field => ({ name, type });
/** An OPTIONAL field. */
export const opt = (name: string, type: AsnType): Field => ({ name, type, optional: true });
export function seq(name: string, fields: Field[], ext: boolean, additions?: Field[]): AsnType {
  return { t: 'seq', name, fields, ext, additions };
}
export function choice(name: string, alts: Alt[], ext: boolean, additions?: Alt[]): AsnType {
  return { t: 'choice', name, alts, ext, additions };
}
/** A CHOICE whose alternatives are all NULL (reject reasons and the like). */
export function nullChoice(name: string, root: string[], ext: boolean, additions: Alt[] = []): AsnType {
  return choice(name, root.map((n) => [n, NULL] as Alt), ext, additions);
}

// ---- character strings ---------------------------------------------------------------------

const PRINTABLE = " '()+,-./0123456789:=?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

interface CharCoding {
  /** Bits per character in the ALIGNED variant (rounded up to a power of two, 27.5.4). */
  bits: number;
  /** Sorted permitted characters when characters are sent as indexes into them, else null. */
  table: string | null;
  allowed: (code: number) => boolean;
}

const codingCache = new WeakMap<object, CharCoding>();

function charCoding(type: Extract<AsnType, { t: 'chars' }>): CharCoding {
  const cached = codingCache.get(type);
  if (cached) return cached;
  let coding: CharCoding;
  if (type.kind === 'bmp') {
    coding = { bits: 16, table: null, allowed: (c) => c <= 0xffff };
  } else {
    const set = type.alphabet ?? (type.kind === 'printable' ? PRINTABLE : null);
    if (set === null) {
      coding = { bits: 8, table: null, allowed: (c) => c <= 0x7f };
    } else {
      const sorted = [...new Set(set)].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0)).join('');
      let b = 1;
      while (2 ** b < sorted.length) b++;
      const aligned = b <= 1 ? 1 : b <= 2 ? 2 : b <= 4 ? 4 : b <= 8 ? 8 : 16;
      // 27.5.4: characters go as their own codes if the largest fits the field, else as indexes.
      const maxCode = sorted.charCodeAt(sorted.length - 1);
      coding = { bits: aligned, table: maxCode < 2 ** aligned ? null : sorted, allowed: (c) => sorted.includes(String.fromCharCode(c)) };
    }
  }
  codingCache.set(type, coding);
  return coding;
}

/** 27.5.7: the characters are octet-aligned unless the whole string fits in 16 bits. */
function charsAligned(type: Extract<AsnType, { t: 'chars' }>, coding: CharCoding): boolean {
  return type.ub === undefined || type.ub * coding.bits > 16;
}

// ---- encoder ---------------------------------------------------------------------------------

function resolve(type: AsnType): AsnType {
  while (type.t === 'ref') type = type.get();
  return type;
}

function typeName(type: AsnType): string {
  return type.t === 'seq' || type.t === 'choice' || type.t === 'open' || type.t === 'ref' ? type.name : type.t;
}

export function encodeValue(w: PerWriter, typeIn: AsnType, v: unknown, path: string): void {
  const type = resolve(typeIn);
  switch (type.t) {
    case 'null':
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new H323CodecError(`${path}: expected a boolean`);
      return w.bool(v);
    case 'int':
      if (typeof v !== 'number') throw new H323CodecError(`${path}: expected a number`);
      if (type.ext) {
        if (v < type.lb || v > type.ub) throw new H323CodecError(`${path}: ${v} is outside the extensible root ${type.lb}..${type.ub}, not supported`);
        w.bool(false);
      }
      return w.constrained(v, type.lb, type.ub, path);
    case 'integer': {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || Math.abs(v) >= 2 ** 47) throw new H323CodecError(`${path}: expected an integer of at most 6 octets`);
      let n = 1;
      while (v < -(2 ** (8 * n - 1)) || v >= 2 ** (8 * n - 1)) n++;
      const b = Buffer.alloc(n);
      b.writeIntBE(v, 0, n);
      w.length(n);
      return w.octets(b);
    }
    case 'octets': {
      if (!(v instanceof Uint8Array)) throw new H323CodecError(`${path}: expected octets`);
      const lb = type.lb ?? 0;
      if (type.ub !== undefined && lb === type.ub) {
        if (v.length !== lb) throw new H323CodecError(`${path}: expected exactly ${lb} octets, got ${v.length}`);
        if (lb > 2) w.align();
        if (lb <= 2) {
          for (const b of v) w.bits(b, 8);
          return;
        }
        return w.octets(v);
      }
      w.boundedLength(v.length, lb, type.ub, path);
      w.align();
      return w.octets(v);
    }
    case 'bits': {
      const b = v as BitString;
      if (!b || typeof b.length !== 'number' || !(b.data instanceof Uint8Array)) throw new H323CodecError(`${path}: expected {length, data}`);
      const lb = type.lb ?? 0;
      const fixed = type.ub !== undefined && lb === type.ub;
      if (!fixed) w.boundedLength(b.length, lb, type.ub, path);
      else if (b.length !== lb) throw new H323CodecError(`${path}: expected exactly ${lb} bits`);
      if (!fixed || b.length > 16) w.align();
      for (let i = 0; i < b.length; i++) w.bits((b.data[i >> 3]! >> (7 - (i & 7))) & 1, 1);
      return;
    }
    case 'chars': {
      if (typeof v !== 'string') throw new H323CodecError(`${path}: expected a string`);
      const coding = charCoding(type);
      const lb = type.lb ?? 0;
      if (type.ub === undefined || lb !== type.ub) w.boundedLength(v.length, lb, type.ub, path);
      else if (v.length !== lb) throw new H323CodecError(`${path}: expected exactly ${lb} characters`);
      if (v.length > 0 && charsAligned(type, coding)) w.align();
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (!coding.allowed(c)) throw new H323CodecError(`${path}: character ${JSON.stringify(v[i])} is not allowed`);
        w.bits(coding.table ? coding.table.indexOf(v[i]!) : c, coding.bits);
      }
      return;
    }
    case 'oid': {
      if (typeof v !== 'string') throw new H323CodecError(`${path}: expected an OID string`);
      const body = encodeOid(v, path);
      w.length(body.length);
      return w.octets(body);
    }
    case 'seqOf': {
      if (!Array.isArray(v)) throw new H323CodecError(`${path}: expected an array`);
      const lb = type.lb ?? 0;
      if (type.ub === undefined || lb !== type.ub) w.boundedLength(v.length, lb, type.ub, path);
      v.forEach((item, i) => encodeValue(w, type.item, item, `${path}[${i}]`));
      return;
    }
    case 'seq':
      return encodeSeq(w, type, v, path);
    case 'choice':
      return encodeChoice(w, type, v, path);
    case 'open':
      throw new H323CodecError(`${path}: ${type.name} is not modelled and can only be carried as an extension`);
  }
}

function encodeSeq(w: PerWriter, type: Extract<AsnType, { t: 'seq' }>, v: unknown, path: string): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new H323CodecError(`${path}: expected an object for ${type.name}`);
  const obj = v as Record<string, unknown>;
  const additions = type.additions ?? [];
  let lastAddition = -1;
  additions.forEach((a, i) => {
    if (obj[a.name] !== undefined) lastAddition = i;
  });
  if (type.ext) w.bool(lastAddition >= 0);
  for (const fd of type.fields) if (fd.optional) w.bool(obj[fd.name] !== undefined);
  for (const fd of type.fields) {
    const fv = obj[fd.name];
    if (fv === undefined) {
      if (!fd.optional) throw new H323CodecError(`${path}.${fd.name}: missing (mandatory in ${type.name})`);
      continue;
    }
    encodeValue(w, fd.type, fv, `${path}.${fd.name}`);
  }
  if (lastAddition < 0) return;
  const count = lastAddition + 1;
  w.normallySmall(count - 1);
  for (let i = 0; i < count; i++) {
    const a = additions[i]!;
    const present = obj[a.name] !== undefined;
    // A mandatory addition is required once the encoding reaches its version of the type.
    if (!present && !a.optional) throw new H323CodecError(`${path}.${a.name}: missing (mandatory extension of ${type.name} once later ones are present)`);
    w.bool(present);
  }
  for (let i = 0; i < count; i++) {
    const a = additions[i]!;
    const av = obj[a.name];
    if (av === undefined) continue;
    encodeAddition(w, a.type, av, `${path}.${a.name}`);
  }
}

function encodeAddition(w: PerWriter, type: AsnType, v: unknown, path: string): void {
  if (resolve(type).t === 'open') {
    if (!(v instanceof Uint8Array)) throw new H323CodecError(`${path}: an unmodelled extension is carried as its octets`);
    w.length(v.length);
    w.octets(v);
    return;
  }
  w.openType((inner) => encodeValue(inner, type, v, path));
}

function encodeChoice(w: PerWriter, type: Extract<AsnType, { t: 'choice' }>, v: unknown, path: string): void {
  if (typeof v !== 'object' || v === null) throw new H323CodecError(`${path}: expected {alternative: value} for ${type.name}`);
  const keys = Object.keys(v);
  if (keys.length !== 1) throw new H323CodecError(`${path}: ${type.name} needs exactly one alternative, got ${keys.length}`);
  const key = keys[0]!;
  const value = (v as Record<string, unknown>)[key];
  if (key === '$unknown') {
    const u = value as UnknownAlternative;
    if (!type.ext) throw new H323CodecError(`${path}: ${type.name} is not extensible`);
    w.bool(true);
    w.normallySmall(u.index);
    w.length(u.data.length);
    w.octets(u.data);
    return;
  }
  const root = type.alts.findIndex(([n]) => n === key);
  if (root >= 0) {
    if (type.ext) w.bool(false);
    w.constrained(root, 0, type.alts.length - 1, `${path} (${type.name} index)`);
    return encodeValue(w, type.alts[root]![1], value, `${path}.${key}`);
  }
  const add = (type.additions ?? []).findIndex(([n]) => n === key);
  if (add < 0) throw new H323CodecError(`${path}: "${key}" is not an alternative of ${type.name}`);
  w.bool(true);
  w.normallySmall(add);
  encodeAddition(w, type.additions![add]![1], value, `${path}.${key}`);
}

function encodeOid(s: string, path: string): Buffer {
  const arcs = s.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isInteger(a) || a < 0) || arcs[0]! > 2) throw new H323CodecError(`${path}: "${s}" is not an OBJECT IDENTIFIER`);
  const out: number[] = [];
  const push = (n: number) => {
    const tmp = [n & 0x7f];
    n = Math.floor(n / 128);
    while (n > 0) {
      tmp.unshift((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(...tmp);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Buffer.from(out);
}

// ---- decoder ---------------------------------------------------------------------------------

/** Nesting limit: recursive types (GenericData in Content) cannot be used to exhaust the stack. */
const MAX_DEPTH = 40;

export function decodeValue(r: PerReader, typeIn: AsnType, path: string, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new H323CodecError(`${path}: nested deeper than ${MAX_DEPTH}`);
  const type = resolve(typeIn);
  switch (type.t) {
    case 'null':
      return null;
    case 'bool':
      return r.bool(path);
    case 'int':
      if (type.ext && r.bool(path)) {
        // A value outside the extensible root: an unconstrained integer (length + octets).
        const n = r.length(path);
        if (n > 6) throw new H323CodecError(`${path}: ${n}-octet integer not supported`);
        const raw = r.octets(n, path);
        return raw.readIntBE(0, n);
      }
      return r.constrained(type.lb, type.ub, path);
    case 'integer': {
      const n = r.length(path);
      if (n < 1 || n > 6) throw new H323CodecError(`${path}: a ${n}-octet INTEGER is not supported`);
      return r.octets(n, path).readIntBE(0, n);
    }
    case 'octets': {
      const lb = type.lb ?? 0;
      if (type.ub !== undefined && lb === type.ub) {
        if (lb <= 2) {
          const out = Buffer.alloc(lb);
          for (let i = 0; i < lb; i++) out[i] = r.bits(8, path);
          return out;
        }
        r.align();
        return r.octets(lb, path);
      }
      const n = r.boundedLength(lb, type.ub, path);
      r.align();
      return r.octets(n, path);
    }
    case 'bits': {
      const lb = type.lb ?? 0;
      const fixed = type.ub !== undefined && lb === type.ub;
      const n = fixed ? lb : r.boundedLength(lb, type.ub, path);
      if (n > r.remainingBits) throw new H323CodecError(`${path}: ${n} bits claimed, ${r.remainingBits} left`);
      if (!fixed || n > 16) r.align();
      const data = Buffer.alloc(Math.ceil(n / 8));
      for (let i = 0; i < n; i++) if (r.bits(1, path)) data[i >> 3] = data[i >> 3]! | (0x80 >> (i & 7));
      return { length: n, data } satisfies BitString;
    }
    case 'chars': {
      const coding = charCoding(type);
      const lb = type.lb ?? 0;
      const n = type.ub === undefined || lb !== type.ub ? r.boundedLength(lb, type.ub, path) : lb;
      if (n * coding.bits > r.remainingBits) throw new H323CodecError(`${path}: ${n} characters claimed, only ${r.remainingBits} bits left`);
      if (n > 0 && charsAligned(type, coding)) r.align();
      let s = '';
      for (let i = 0; i < n; i++) {
        const c = r.bits(coding.bits, path);
        if (coding.table) {
          if (c >= coding.table.length) throw new H323CodecError(`${path}: character index ${c} outside the permitted alphabet`);
          s += coding.table[c];
        } else {
          // Lenient on input: endpoints put '@' in PrintableString cnames; only 7-bit is checked.
          if (type.kind !== 'bmp' && c > 0x7f) throw new H323CodecError(`${path}: character code ${c} is not IA5`);
          s += String.fromCharCode(c);
        }
      }
      return s;
    }
    case 'oid': {
      const n = r.length(path);
      return decodeOid(r.octets(n, path), path);
    }
    case 'seqOf': {
      const lb = type.lb ?? 0;
      const n = type.ub === undefined || lb !== type.ub ? r.boundedLength(lb, type.ub, path) : lb;
      // Every element takes at least... nothing (NULL), so bound by what is left to stop a
      // hostile length from looping; RAS never has SEQUENCE OF NULL.
      if (n > r.remainingBits + 1) throw new H323CodecError(`${path}: ${n} elements claimed, ${r.remainingBits} bits left`);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(decodeValue(r, type.item, `${path}[${i}]`, depth + 1));
      return out;
    }
    case 'seq':
      return decodeSeq(r, type, path, depth);
    case 'choice':
      return decodeChoice(r, type, path, depth);
    case 'open':
      throw new H323CodecError(`${path}: ${type.name} is not modelled outside an extension`);
  }
}

function decodeSeq(r: PerReader, type: Extract<AsnType, { t: 'seq' }>, path: string, depth: number): Record<string, unknown> {
  const extPresent = type.ext ? r.bool(`${path} extension bit`) : false;
  const present: boolean[] = [];
  for (const fd of type.fields) if (fd.optional) present.push(r.bool(`${path}.${fd.name} presence`));
  const out: Record<string, unknown> = {};
  let p = 0;
  for (const fd of type.fields) {
    if (fd.optional && !present[p++]) continue;
    out[fd.name] = decodeValue(r, fd.type, `${path}.${fd.name}`, depth + 1);
  }
  if (!extPresent) return out;
  const count = r.normallySmall(`${path} extension count`) + 1;
  const bitmap: boolean[] = [];
  for (let i = 0; i < count; i++) bitmap.push(r.bool(`${path} extension bitmap`));
  const additions = type.additions ?? [];
  for (let i = 0; i < count; i++) {
    if (!bitmap[i]) continue;
    const a = additions[i];
    if (!a) {
      r.skipOpenType(`${path} unknown extension #${i}`);
      continue;
    }
    out[a.name] = decodeAddition(r, a.type, `${path}.${a.name}`, depth);
  }
  return out;
}

function decodeAddition(r: PerReader, type: AsnType, path: string, depth: number): unknown {
  if (resolve(type).t === 'open') return r.skipOpenType(path);
  return r.openType(path, (inner) => decodeValue(inner, type, path, depth + 1));
}

function decodeChoice(r: PerReader, type: Extract<AsnType, { t: 'choice' }>, path: string, depth: number): Record<string, unknown> {
  if (type.ext && r.bool(`${path} extension bit`)) {
    const index = r.normallySmall(`${path} extension index`);
    const a = (type.additions ?? [])[index];
    if (!a) return { $unknown: { index, data: r.skipOpenType(`${path} unknown alternative #${index}`) } satisfies UnknownAlternative };
    return { [a[0]]: decodeAddition(r, a[1], `${path}.${a[0]}`, depth) };
  }
  const i = r.constrained(0, type.alts.length - 1, `${path} (${type.name} index)`);
  const [name, alt] = type.alts[i]!;
  return { [name]: decodeValue(r, alt, `${path}.${name}`, depth + 1) };
}

function decodeOid(b: Buffer, path: string): string {
  if (b.length === 0) throw new H323CodecError(`${path}: empty OBJECT IDENTIFIER`);
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    n = n * 128 + (b[i]! & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw new H323CodecError(`${path}: OID arc too large`);
    if ((b[i]! & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(n < 40 ? 0 : n < 80 ? 1 : 2, n < 80 ? n % 40 : n - 80);
      else arcs.push(n);
      n = 0;
    } else if (i === b.length - 1) throw new H323CodecError(`${path}: OID ends inside an arc`);
  }
  return arcs.join('.');
}

/** Encodes a value of `type` as a complete PER encoding (octets). */
export function encode(type: AsnType, value: unknown, path = typeName(type)): Buffer {
  const w = new PerWriter();
  encodeValue(w, type, value, path);
  return w.finish();
}

/** Decodes a complete PER encoding of `type`. Trailing padding is allowed, trailing octets are not. */
export function decode(type: AsnType, data: Uint8Array, path = typeName(type)): unknown {
  const r = new PerReader(data);
  const v = decodeValue(r, type, path);
  if (r.remainingBits >= 8) throw new H323CodecError(`${path}: ${Math.floor(r.remainingBits / 8)} octets left over after the message`);
  return v;
}
