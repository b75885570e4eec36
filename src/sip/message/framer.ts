import { SipParseError } from './errors.js';
import { findHeaderEnd } from './parse.js';

export type FramerItem = { message: Buffer } | { keepalive: 'ping' | 'pong' } | { error: SipParseError };

/**
 * Cuts a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 18.3), and
 * recognises RFC 5626 keep-alives: CRLFCRLF (ping) and a lone CRLF (pong). After an error
 * the stream cannot be re-synchronised; the caller closes the connection.
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly max: number;
  private failed = false;

  constructor(opts: { maxMessageSize?: number } = {}) {
    this.max = opts.maxMessageSize ?? 65_536;
  }

  push(chunk: Buffer): FramerItem[] {
    if (this.failed) return [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: FramerItem[] = [];
    for (;;) {
      // Keep-alives sit between messages.
      if (this.buf.length >= 4 && this.buf[0] === 13 && this.buf[1] === 10 && this.buf[2] === 13 && this.buf[3] === 10) {
        out.push({ keepalive: 'ping' });
        this.buf = this.buf.subarray(4);
        continue;
      }
      if (this.buf.length >= 2 && this.buf[0] === 13 && this.buf[1] === 10) {
        if (this.buf.length === 2 || this.buf[2] !== 13) {
          out.push({ keepalive: 'pong' });
          this.buf = this.buf.subarray(2);
          continue;
        }
        if (this.buf.length < 4) return out; // maybe the start of a ping
      }
      if (this.buf.length === 0) return out;
      const end = findHeaderEnd(this.buf, 0);
      if (!end) {
        if (this.buf.length > this.max) return this.fail(out, `message exceeds ${this.max} bytes`);
        return out;
      }
      const head = this.buf.toString('latin1', 0, end.at);
      const m = /(?:^|\n)[ \t]*(?:content-length|l)[ \t]*:[ \t]*(\S*)/i.exec(head);
      if (!m) return this.fail(out, 'stream message without Content-Length');
      if (!/^\d{1,9}$/.test(m[1])) return this.fail(out, `malformed Content-Length "${m[1].slice(0, 20)}"`);
      const total = end.at + end.len + Number(m[1]);
      if (total > this.max) return this.fail(out, `message exceeds ${this.max} bytes`);
      if (this.buf.length < total) return out;
      out.push({ message: Buffer.from(this.buf.subarray(0, total)) });
      this.buf = this.buf.subarray(total);
    }
  }

  private fail(out: FramerItem[], msg: string): FramerItem[] {
    this.failed = true;
    this.buf = Buffer.alloc(0);
    out.push({ error: new SipParseError(msg) });
    return out;
  }
}
