import { excerpt, isWsp, trimWsp } from './chars.js';
import { SipParseError } from './errors.js';
import { findHeadEnd } from './parse.js';

export type FramerItem = { message: Buffer } | { keepalive: 'ping' | 'pong' } | { error: SipParseError };

/**
 * The Content-Length of a header section (latin1 text), read without parsing the message:
 * framing must not depend on anything but this header. Handles compact `l`, odd case, white
 * space before the colon and folding.
 */
function contentLengthOf(head: string): string | undefined | Error {
  let found: string | undefined;
  let pos = 0;
  while (pos < head.length) {
    let e = head.indexOf('\n', pos);
    if (e < 0) e = head.length;
    const c0 = head.charCodeAt(pos) | 0x20;
    if (c0 === 0x63 /* c */ || c0 === 0x6c /* l */) {
      const colon = head.indexOf(':', pos);
      if (colon >= 0 && colon < e) {
        const name = trimWsp(head.slice(pos, colon)).toLowerCase();
        if (name === 'content-length' || name === 'l') {
          let value = head.slice(colon + 1, e);
          // folded continuation lines
          while (e + 1 < head.length && isWsp(head.charCodeAt(e + 1))) {
            let e2 = head.indexOf('\n', e + 1);
            if (e2 < 0) e2 = head.length;
            value += ` ${head.slice(e + 1, e2)}`;
            e = e2;
          }
          const v = value.replace(/\r/g, '').trim();
          if (found !== undefined && found !== v) return new Error(`conflicting Content-Length headers (${excerpt(found, 20)} and ${excerpt(v, 20)})`);
          found = v;
        }
      }
    }
    pos = e + 1;
  }
  return found;
}

/**
 * Cuts a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 18.3) and recognises
 * RFC 5626 keep-alives between messages: CRLFCRLF is a ping, a lone CRLF a pong (reported as soon
 * as it is seen, so a ping split after its first CRLF would read as two pongs - TCP does not split
 * a 4-byte write in practice). An oversize or unframeable message is reported once as an error;
 * the stream cannot be re-synchronised after it and the caller closes the connection.
 *
 * Bytes are kept in one growing buffer and the search for the end of the headers resumes where
 * it stopped, so a peer trickling a message byte by byte costs linear, not quadratic, time.
 */
export class StreamFramer {
  private readonly max: number;
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Bytes after `start` already searched for the end of the headers. */
  private scanned = 0;
  /** Size of the message at `start` once its headers are complete; 0 while still unknown. */
  private need = 0;
  private failed = false;

  constructor(opts: { maxMessageSize?: number } = {}) {
    this.max = opts.maxMessageSize ?? 65_536;
  }

  /** True once an error was reported; further input is ignored. */
  get closed(): boolean {
    return this.failed;
  }

  push(chunk: Buffer): FramerItem[] {
    const out: FramerItem[] = [];
    if (this.failed || chunk.length === 0) return out;
    this.append(chunk);
    const b = this.buf;
    for (;;) {
      const avail = this.end - this.start;
      if (avail === 0) break;
      const s = this.start;
      // Keep-alives and stray line ends sit between messages.
      if (b[s] === 13) {
        if (avail < 2) break;
        if (b[s + 1] !== 10) return this.fail(out, 'bare CR between messages');
        if (avail >= 4 && b[s + 2] === 13 && b[s + 3] === 10) {
          out.push({ keepalive: 'ping' });
          this.consume(4);
        } else if (avail === 3 && b[s + 2] === 13) {
          break; // maybe the first half of a ping
        } else {
          out.push({ keepalive: 'pong' });
          this.consume(2);
        }
        continue;
      }
      if (b[s] === 10) {
        this.consume(1);
        continue;
      }
      if (this.need === 0) {
        const from = s + Math.max(0, this.scanned - 3);
        const head = findHeadEnd(b.subarray(0, this.end), from);
        if (!head) {
          this.scanned = avail;
          if (avail > this.max) return this.fail(out, `message exceeds ${this.max} bytes`);
          break;
        }
        const cl = contentLengthOf(b.toString('latin1', s, head.headEnd));
        if (cl instanceof Error) return this.fail(out, cl.message);
        if (cl === undefined) return this.fail(out, 'stream message without Content-Length');
        if (!/^\d{1,10}$/.test(cl)) return this.fail(out, `malformed Content-Length "${excerpt(cl, 20)}"`);
        const total = head.bodyStart - s + Number(cl);
        if (total > this.max) return this.fail(out, `message exceeds ${this.max} bytes`);
        this.need = total;
      }
      const total = this.need;
      if (avail < total) break;
      out.push({ message: Buffer.from(b.subarray(s, s + total)) });
      this.consume(total);
    }
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > 4 * this.max) this.buf = Buffer.alloc(0);
    }
    return out;
  }

  private consume(n: number): void {
    this.start += n;
    this.scanned = 0;
    this.need = 0;
  }

  private append(chunk: Buffer): void {
    const pending = this.end - this.start;
    if (this.buf.length - this.end < chunk.length) {
      if (pending + chunk.length <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(pending + chunk.length, this.buf.length * 2, 4096));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = pending;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  private fail(out: FramerItem[], msg: string): FramerItem[] {
    this.failed = true;
    this.buf = Buffer.alloc(0);
    this.start = this.end = this.scanned = this.need = 0;
    out.push({ error: new SipParseError(msg) });
    return out;
  }
}
