import { canonicalHeaderName } from '../message/index.js';

export class AppMessageError extends Error {
  override name = 'AppMessageError';
}

/**
 * A SIP message as an application sends it over the control connection: often incomplete
 * (no Via, no To tag, `sip:placeholder` URIs), so it is read leniently here and completed by
 * the server, not validated like a message from the network.
 */
export interface AppMessage {
  kind: 'request' | 'response';
  method: string;
  uri: string;
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: string;
}

export function parseAppMessage(text: string): AppMessage {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 4);
  const lines = head.split('\r\n');
  const start = lines[0] ?? '';
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    if ((line[0] === ' ' || line[0] === '\t') && headers.length) {
      headers[headers.length - 1][1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // drachtio drops such lines too
    const name = line.slice(0, colon).trim();
    if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(name)) continue;
    headers.push([canonicalHeaderName(name), line.slice(colon + 1).trim()]);
  }
  const res = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/i.exec(start);
  if (res) return { kind: 'response', method: '', uri: '', status: Number(res[1]), reason: res[2] || '', headers, body };
  const req = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/i.exec(start);
  if (!req) throw new AppMessageError(`invalid request-uri: ${start}`);
  return { kind: 'request', method: req[1].toUpperCase(), uri: req[2], status: 0, reason: '', headers, body };
}

export function header(m: AppMessage, name: string): string | undefined {
  return m.headers.find(([n]) => n === name)?.[1];
}

/** Headers the server always sets itself, whatever the application sent (drachtio's rule). */
export const SERVER_OWNED = new Set(['Via', 'Route', 'Record-Route', 'RSeq', 'Content-Length']);
