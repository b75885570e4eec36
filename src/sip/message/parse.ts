import { SipParseError } from './errors.js';
import { SipHeaders } from './headers.js';
import { canonicalHeaderName, LIST_HEADERS } from './names.js';
import { splitList } from './split.js';
import type { SipMessage } from './types.js';
import { parseCSeq, parseVia } from './via.js';

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const DEFAULT_MAX = 65_535;

/** Index of the blank line ending the headers, and its length (CRLFCRLF or bare LFLF). */
export function findHeaderEnd(buf: Buffer, from: number): { at: number; len: number } | undefined {
  for (let i = from; i < buf.length - 1; i++) {
    if (buf[i] === 10) {
      if (buf[i + 1] === 10) return { at: i, len: 2 };
      if (buf[i + 1] === 13 && buf[i + 2] === 10) return { at: i, len: 3 };
    } else if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return { at: i, len: 4 };
  }
  return undefined;
}

/**
 * Parses one SIP message (a UDP datagram or one message framed from a stream). Tolerant of
 * what real endpoints send (compact and odd-case names, folded lines, LF line ends, leading
 * CRLFs, several values per line); strict on what a server must be able to rely on.
 */
export function parseMessage(buf: Buffer, opts: { maxSize?: number } = {}): SipMessage {
  const max = opts.maxSize ?? DEFAULT_MAX;
  if (buf.length > max) throw new SipParseError(`message exceeds ${max} bytes`);
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start >= buf.length) throw new SipParseError('empty message');
  const end = findHeaderEnd(buf, start);
  const headEnd = end ? end.at : buf.length;
  const head = buf.toString('utf8', start, headEnd);
  const rawLines = head.split(/\r?\n/);
  const lines: string[] = [];
  for (const l of rawLines) {
    if ((l.startsWith(' ') || l.startsWith('\t')) && lines.length > 1) lines[lines.length - 1] += ` ${l.trim()}`;
    else lines.push(l);
  }
  const startLine = lines[0].trim();
  const headers = new SipHeaders();
  let kind: 'request' | 'response';
  let method = '';
  let uri = '';
  let status = 0;
  let reason = '';
  // A defect in the start line is reported after the headers are read, so that the
  // request can still be answered (400/505) from its Via, From, To, Call-ID and CSeq.
  let startError: string | undefined;
  const parts = startLine.split(/ +/);
  if (/^SIP\/\d+\.\d+$/i.test(parts[0] ?? '') && parts.length >= 2) {
    kind = 'response';
    if (parts[0].toUpperCase() !== 'SIP/2.0') startError = `unsupported SIP version ${parts[0].slice(0, 12)}`;
    else if (!/^\d{3}$/.test(parts[1]) || Number(parts[1]) < 100 || Number(parts[1]) > 699) startError = `bad status code ${parts[1].slice(0, 12)}`;
    status = Number(parts[1]);
    reason = startLine.slice(startLine.indexOf(parts[1]) + 3).trim();
  } else {
    kind = 'request';
    method = parts[0] ?? '';
    uri = parts[1] ?? '';
    const version = parts[parts.length - 1] ?? '';
    if (!TOKEN.test(method)) startError = `malformed request line: bad method "${method.slice(0, 20)}"`;
    else if (parts.length !== 3) startError = `malformed request line "${startLine.slice(0, 80)}"`;
    else if (!/^SIP\/\d+\.\d+$/i.test(version)) startError = `malformed request line: bad SIP version "${version.slice(0, 20)}"`;
    else if (version.toUpperCase() !== 'SIP/2.0') startError = `unsupported SIP version ${version.slice(0, 12)}`;
    else if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) startError = `malformed Request-URI "${uri.slice(0, 80)}"`;
  }
  const salvage = () => ({ kind, method: kind === 'request' && TOKEN.test(method) ? method : undefined, headers });
  const fail = (msg: string): never => {
    throw new SipParseError(msg, salvage());
  };
  let badLine: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!name || !TOKEN.test(name)) {
      badLine ??= line;
      continue;
    }
    const cname = canonicalHeaderName(name);
    const value = line.slice(colon + 1).trim();
    if (LIST_HEADERS.has(cname) && !(cname === 'Contact' && value === '*')) {
      for (const v of splitList(value)) headers.append(cname, v);
    } else headers.append(cname, value);
  }
  if (startError) fail(startError);
  if (head.includes('\u0000')) fail('NUL byte in the message headers');
  if (badLine !== undefined) fail(`header line without colon or with a bad name: "${badLine.slice(0, 60)}"`);

  for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    const v = headers.getAll(h);
    if (v.length === 0 || v.every((x) => x === '')) fail(`missing ${h} header`);
    if (h !== 'Via' && v.length > 1) fail(`more than one ${h} header`);
  }
  try {
    parseVia(headers.get('Via')!);
  } catch (err) {
    fail((err as Error).message);
  }
  let cseq: { seq: number; method: string } | undefined;
  try {
    cseq = parseCSeq(headers.get('CSeq')!);
  } catch (err) {
    fail((err as Error).message);
  }
  if (kind === 'request' && cseq!.method !== method) fail(`CSeq method ${cseq!.method} does not match request method ${method}`);
  if (kind === 'request') {
    const mf = headers.get('Max-Forwards');
    if (mf !== undefined && !/^\d{1,3}$/.test(mf)) fail(`malformed Max-Forwards "${mf.slice(0, 20)}"`);
  }

  const bodyStart = end ? end.at + end.len : buf.length;
  let body = buf.subarray(bodyStart);
  const cls = headers.getAll('Content-Length');
  if (cls.length > 1) fail('more than one Content-Length header');
  if (cls.length === 1) {
    if (!/^\d{1,10}$/.test(cls[0])) fail(`malformed Content-Length "${cls[0].slice(0, 20)}"`);
    const cl = Number(cls[0]);
    if (cl > body.length) fail(`body shorter than Content-Length (${body.length} < ${cl})`);
    // RFC 3261 18.3: octets past Content-Length in a datagram are discarded.
    body = body.subarray(0, cl);
  }
  if (kind === 'request') return { kind, method, uri, headers, body: Buffer.from(body) };
  return { kind, status, reason, headers, body: Buffer.from(body) };
}
