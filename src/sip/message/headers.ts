import { canonicalHeaderName } from './names.js';

// A CR or LF inside a value would end the line when serialised and let the rest pose as a new
// header. Values set by applications (or copied from other messages) are neutralised on the way
// in; values from the parser cannot contain line breaks.
function oneLine(v: string): string {
  return v.includes('\n') || v.includes('\r') ? v.replace(/[\r\n]+/g, ' ') : v;
}

/**
 * Ordered SIP headers: one [canonicalName, value] entry per value, in message order. Names are
 * canonicalised on the way in, so lookups are case-insensitive and compact forms ('v', 'i')
 * match their long names.
 */
export class SipHeaders {
  private list: Array<[string, string]> = [];

  constructor(entries?: Iterable<[string, string]>) {
    if (entries) for (const [n, v] of entries) this.list.push([canonicalHeaderName(n), oneLine(v)]);
  }

  /** First value of `name`. */
  get(name: string): string | undefined {
    const n = canonicalHeaderName(name);
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i][0] === n) return list[i][1];
    return undefined;
  }

  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    const out: string[] = [];
    for (const e of this.list) if (e[0] === n) out.push(e[1]);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces every entry of `name`, keeping the position of the first one (or appending). */
  set(name: string, value: string | string[]): void {
    const n = canonicalHeaderName(name);
    const values = Array.isArray(value) ? value : [value];
    const kept: Array<[string, string]> = [];
    let at = -1;
    for (const e of this.list) {
      if (e[0] !== n) kept.push(e);
      else if (at < 0) at = kept.length;
    }
    const entries = values.map((v): [string, string] => [n, oneLine(v)]);
    if (at < 0) kept.push(...entries);
    else kept.splice(at, 0, ...entries);
    this.list = kept;
  }

  append(name: string, value: string): void {
    this.list.push([canonicalHeaderName(name), oneLine(value)]);
  }

  /** Inserts before the first entry of that name (a new top Via or Record-Route), or first of all when there is none. */
  prepend(name: string, value: string): void {
    const n = canonicalHeaderName(name);
    const at = this.list.findIndex((e) => e[0] === n);
    this.list.splice(at < 0 ? 0 : at, 0, [n, oneLine(value)]);
  }

  remove(name: string): void {
    const n = canonicalHeaderName(name);
    this.list = this.list.filter((e) => e[0] !== n);
  }

  entries(): IterableIterator<[string, string]> {
    return this.list[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.list[Symbol.iterator]();
  }

  /** Number of entries. */
  get size(): number {
    return this.list.length;
  }

  clone(): SipHeaders {
    const h = new SipHeaders();
    h.list = this.list.map((e): [string, string] => [e[0], e[1]]);
    return h;
  }

  /**
   * Appends an entry whose name is already canonical (the parser's hot path).
   * @internal
   */
  pushCanonical(name: string, value: string): void {
    this.list.push([name, value]);
  }
}
