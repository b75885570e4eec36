import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';

export class WireProtocolError extends Error {
  override name = 'WireProtocolError';
}

/** Largest control message accepted from an application (a SIP message plus its leader line). */
const MAX_FRAME = 1024 * 1024;

/**
 * The drachtio framing: `<byte length>#<payload>`, where payload is `msgId|type|tokens...`
 * optionally followed by CRLF and a SIP message. Parses frames out of a TCP byte stream.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: string[] = [];
    for (;;) {
      const hash = this.buf.indexOf(0x23); // '#'
      if (hash < 0) {
        if (this.buf.length > 12) throw new WireProtocolError('missing length specifier');
        return out;
      }
      const lenText = this.buf.toString('latin1', 0, hash);
      if (!/^\d{1,7}$/.test(lenText)) throw new WireProtocolError(`invalid length specifier "${lenText.slice(0, 16)}"`);
      const len = Number(lenText);
      if (len === 0 || len > MAX_FRAME) throw new WireProtocolError(`invalid frame length ${len}`);
      if (this.buf.length < hash + 1 + len) return out;
      out.push(this.buf.toString('utf8', hash + 1, hash + 1 + len));
      this.buf = this.buf.subarray(hash + 1 + len);
    }
  }
}

export interface ControlMessage {
  msgId: string;
  type: string;
  /** Tokens after the type, from the leader line. */
  args: string[];
  /** The SIP message after the first CRLF, if any. */
  sip: string | undefined;
}

export function parseControlMessage(frame: string): ControlMessage {
  const crlf = frame.indexOf('\r\n');
  const leader = crlf < 0 ? frame : frame.slice(0, crlf);
  const tokens = leader.split('|');
  if (tokens.length < 2) throw new WireProtocolError('control message needs an id and a type');
  return { msgId: tokens[0], type: tokens[1], args: tokens.slice(2), sip: crlf < 0 ? undefined : frame.slice(crlf + 2) };
}

export function sendFrame(socket: Socket, payload: string): void {
  if (socket.destroyed) return;
  socket.write(`${Buffer.byteLength(payload, 'utf8')}#${payload}`);
}

export function newMessageId(): string {
  return randomUUID();
}
