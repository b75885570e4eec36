import { SipHeaders } from './headers.js';
import { reasonPhrase } from './reasons.js';
import type { SipMessage, SipRequest, SipResponse } from './types.js';

// The start line's parts are plain properties anyone may set; a line break in them would forge
// headers. (Header values are neutralised by SipHeaders itself.)
const LINE_BREAK = /[\r\n]+/g;

function oneLine(s: string): string {
  return s.includes('\n') || s.includes('\r') ? s.replace(LINE_BREAK, ' ') : s;
}

/**
 * Canonical header names, one line per entry (so each Via is its own line), CRLF line ends and
 * a Content-Length that always matches the body: it replaces the first Content-Length entry in
 * place, or is appended after the other headers.
 */
export function serializeMessage(msg: SipMessage): Buffer {
  let head = msg.kind === 'request'
    ? `${oneLine(msg.method)} ${oneLine(msg.uri)} SIP/2.0\r\n`
    : `SIP/2.0 ${msg.status} ${oneLine(msg.reason)}\r\n`;
  const bodyLength = msg.body.length;
  let wroteLength = false;
  for (const [name, value] of msg.headers.entries()) {
    if (name === 'Content-Length') {
      if (!wroteLength) head += `Content-Length: ${bodyLength}\r\n`;
      wroteLength = true;
    } else head += `${name}: ${value}\r\n`;
  }
  if (!wroteLength) head += `Content-Length: ${bodyLength}\r\n`;
  head += '\r\n';
  const headLength = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLength + bodyLength);
  out.write(head, 0, 'utf8');
  if (bodyLength) msg.body.copy(out, headLength);
  return out;
}

function toBody(body: Buffer | string | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
}

export function createRequest(method: string, uri: string, headers?: Iterable<[string, string]>, body?: Buffer | string): SipRequest {
  return { kind: 'request', method, uri, headers: new SipHeaders(headers), body: toBody(body) };
}

/** A response; `reason` defaults to the standard phrase of `status`. */
export function createResponse(status: number, reason?: string, headers?: Iterable<[string, string]>, body?: Buffer | string): SipResponse {
  return { kind: 'response', status, reason: reason ?? reasonPhrase(status), headers: new SipHeaders(headers), body: toBody(body) };
}
