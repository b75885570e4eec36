import { canonicalHeaderName } from './names.js';

/** Ordered SIP headers, one entry per value, names in canonical spelling. */
export class SipHeaders {
  private list: Array<[string, string]> = [];

  constructor(entries?: Iterable<[string, string]>) {
    if (entries) for (const [n, v] of entries) this.list.push([canonicalHeaderName(n), v]);
  }

  get(name: string): string | undefined {
    const n = canonicalHeaderName(name);
    for (const e of this.list) if (e[0] === n) return e[1];
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

  /** Replaces every entry of `name`, keeping the position of the first one. */
  set(name: string, value: string | string[]): void {
    const n = canonicalHeaderName(name);
    const values = Array.isArray(value) ? value : [value];
    const at = this.list.findIndex((e) => e[0] === n);
    this.list = this.list.filter((e) => e[0] !== n);
    const entries = values.map((v): [string, string] => [n, v]);
    if (at < 0) this.list.push(...entries);
    else this.list.splice(at, 0, ...entries);
  }

  append(name: string, value: string): void {
    this.list.push([canonicalHeaderName(name), value]);
  }

  /** Adds before the first entry of that name (Via, Record-Route), or first of all when none. */
  prepend(name: string, value: string): void {
    const n = canonicalHeaderName(name);
    const at = this.list.findIndex((e) => e[0] === n);
    this.list.splice(at < 0 ? 0 : at, 0, [n, value]);
  }

  remove(name: string): void {
    const n = canonicalHeaderName(name);
    this.list = this.list.filter((e) => e[0] !== n);
  }

  entries(): IterableIterator<[string, string]> {
    return this.list[Symbol.iterator]();
  }

  get size(): number {
    return this.list.length;
  }

  clone(): SipHeaders {
    const h = new SipHeaders();
    h.list = this.list.map((e): [string, string] => [e[0], e[1]]);
    return h;
  }
}
