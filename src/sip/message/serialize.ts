import { SipHeaders } from './headers.js';
import { reasonPhrase } from './reasons.js';
import type { SipMessage, SipRequest, SipResponse } from './types.js';

/** One header line per entry, canonical names, CRLF, and always a correct Content-Length. */
export function serializeMessage(msg: SipMessage): Buffer {
  let head = msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0\r\n` : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  for (const [name, value] of msg.headers.entries()) {
    if (name === 'Content-Length') continue;
    head += `${name}: ${value}\r\n`;
  }
  head += `Content-Length: ${msg.body.length}\r\n\r\n`;
  if (msg.body.length === 0) return Buffer.from(head, 'utf8');
  return Buffer.concat([Buffer.from(head, 'utf8'), msg.body]);
}

export function createRequest(method: string, uri: string, headers?: Iterable<[string, string]>, body?: Buffer | string): SipRequest {
  return {
    kind: 'request',
    method,
    uri,
    headers: new SipHeaders(headers),
    body: body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
  };
}

export function createResponse(status: number, reason?: string, headers?: Iterable<[string, string]>, body?: Buffer | string): SipResponse {
  return {
    kind: 'response',
    status,
    reason: reason ?? reasonPhrase(status),
    headers: new SipHeaders(headers),
    body: body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
  };
}
