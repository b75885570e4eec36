import { excerpt, isToken, isWsp, skipWsp, trimWsp } from './chars.js';
import { parseCSeq } from './cseq.js';
import { SipParseError, type SipSalvage } from './errors.js';
import { SipHeaders } from './headers.js';
import { scanNameAddr } from './name-addr.js';
import { canonicalHeaderName, LIST_HEADERS } from './names.js';
import { Defect } from './params.js';
import { splitList } from './split.js';
import type { SipMessage } from './types.js';
import { scanUri } from './uri.js';
import { scanVia } from './via.js';

/** 64 KiB, the largest message a stream framer accepts by default and far above any UDP datagram. */
export const DEFAULT_MAX_MESSAGE_SIZE = 65_536;

const LF_CRLF = Buffer.from('\n\r\n');
const LF_LF = Buffer.from('\n\n');
// Bytes that need a closer look: controls other than HTAB/LF (1), and CR, fine only before LF (2).
const SUSPECT_BYTE = new Uint8Array(256);
for (let c = 0; c < 32; c++) SUSPECT_BYTE[c] = c === 9 || c === 10 ? 0 : c === 13 ? 2 : 1;
SUSPECT_BYTE[127] = 1;

/** Whether buf[s, e) holds a control character or bare CR; a byte loop is cheaper here than a regex over the decoded text. */
function hasSuspectBytes(buf: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const t = SUSPECT_BYTE[buf[i]];
    if (t !== 0 && (t === 1 || buf[i + 1] !== 10 || i + 1 >= e)) return true;
  }
  return false;
}

/**
 * Locates the empty line that ends the header section, accepting CRLF and bare-LF line ends.
 * `headEnd` is where the last header line's text ends (before its CR LF), `bodyStart` the first
 * byte after the empty line. Searches from `from` (a line start or anywhere before the blank line).
 */
export function findHeadEnd(buf: Buffer, from: number): { headEnd: number; bodyStart: number } | undefined {
  const a = buf.indexOf(LF_CRLF, from);
  const b = buf.indexOf(LF_LF, from);
  let at: number;
  let bodyStart: number;
  if (a >= 0 && (b < 0 || a < b)) {
    at = a;
    bodyStart = a + 3;
  } else if (b >= 0) {
    at = b;
    bodyStart = b + 2;
  } else return undefined;
  return { headEnd: at > from && buf[at - 1] === 13 ? at - 1 : at, bodyStart };
}

function controlName(c: number): string {
  if (c === 0) return 'NUL byte';
  if (c === 13) return 'bare CR';
  return `control character 0x${c.toString(16).padStart(2, '0')}`;
}

/**
 * The first forbidden control character of a header line, if any. Controls (even NUL) are only
 * legal as the second half of a quoted-pair inside a quoted string (RFC 3261 25.1; RFC 4475
 * intmeth quotes BEL, NUL and DEL in a display name).
 */
function lineDefect(line: string): string | undefined {
  let quoted = false;
  for (let k = 0; k < line.length; k++) {
    const c = line.charCodeAt(k);
    if (quoted && c === 92 /* \ */ && k + 1 < line.length) {
      if (line.charCodeAt(k + 1) === 13) return 'bare CR';
      k++;
      continue;
    }
    if (c === 34) quoted = !quoted;
    else if ((c < 32 && c !== 9) || c === 127) return controlName(c);
  }
  return undefined;
}

function isVersionLike(s: string): boolean {
  const slash = s.indexOf('/');
  return slash > 0 && /^[A-Za-z]+$/.test(s.slice(0, slash));
}

function versionProblem(v: string): string | undefined {
  if (v.length === 7 && v.toUpperCase() === 'SIP/2.0') return undefined;
  if (/^SIP\/\d{1,3}\.\d{1,3}$/i.test(v)) return `unsupported SIP version ${v}`;
  return `malformed SIP version "${excerpt(v, 20)}"`;
}

interface StartLine {
  kind: 'request' | 'response';
  method: string;
  uri: string;
  status: number;
  reason: string;
  /** A defect found in an otherwise recognisable start line (the headers are still read for the salvage). */
  error?: string;
}

/** Splits on runs of SP/HTAB; RFC 4475 (lwsstart, trws) allows tolerating extra white space. */
function words(line: string): string[] {
  const out: string[] = [];
  let i = skipWsp(line, 0);
  while (i < line.length) {
    let e = i;
    while (e < line.length && !isWsp(line.charCodeAt(e))) e++;
    out.push(line.slice(i, e));
    i = skipWsp(line, e);
  }
  return out;
}

function requestUriProblem(uri: string): string | undefined {
  if (uri.charCodeAt(0) === 60 /* < */) return `Request-URI must not be enclosed in <>: "${excerpt(uri)}"`;
  try {
    const u = scanUri(uri);
    if (u.headers.size > 0) return `Request-URI must not contain headers: "${excerpt(uri)}"`;
  } catch (err) {
    if (err instanceof Defect) return `malformed Request-URI "${excerpt(uri)}": ${err.message}`;
    throw err;
  }
  return undefined;
}

function parseStartLine(line: string): StartLine {
  const w = words(line);
  if (w.length === 0) throw new SipParseError('empty start line');
  const first = w[0];
  if (first.length >= 4 && first.slice(0, 4).toUpperCase() === 'SIP/') {
    const sl: StartLine = { kind: 'response', method: '', uri: '', status: 0, reason: '' };
    sl.error = versionProblem(first);
    const code = w[1] ?? '';
    if (code.length === 3 && code >= '100' && code <= '699' && /^\d{3}$/.test(code)) sl.status = Number(code);
    else sl.error ??= code ? `bad status code ${excerpt(code, 20)}` : 'missing status code';
    // The reason phrase is everything after the code, inner white space and UTF-8 included.
    let i = skipWsp(line, 0);
    i = skipWsp(line, i + first.length);
    i = skipWsp(line, i + code.length);
    sl.reason = trimWsp(line.slice(i));
    return sl;
  }
  // Not a usable request line, but the headers are still read: when Via, From, To, Call-ID
  // and CSeq are readable the request must be answered 400 from the salvage.
  if (!isToken(first)) return { kind: 'request', method: '', uri: '', status: 0, reason: '', error: `malformed method "${excerpt(first, 30)}" in start line` };
  if (w.length < 2) return { kind: 'request', method: first, uri: '', status: 0, reason: '', error: `malformed start line "${excerpt(line)}"` };
  const sl: StartLine = { kind: 'request', method: first, uri: '', status: 0, reason: '' };
  if (w.length === 2) {
    sl.error = isVersionLike(w[1]) ? `missing Request-URI in "${excerpt(line)}"` : `missing SIP version in "${excerpt(line)}"`;
  } else if (w.length > 3) {
    sl.error = isVersionLike(w[w.length - 1])
      ? `Request-URI contains white space: "${excerpt(line)}"`
      : `malformed request line "${excerpt(line)}"`;
  } else {
    sl.uri = w[1];
    sl.error = versionProblem(w[2]) ?? requestUriProblem(w[1]);
  }
  return sl;
}

// Raw header name -> canonical name, for names already known to be tokens. Bounded: hostile
// peers can send endless distinct names.
const nameCache = new Map<string, string>();

function headerName(raw: string): string | undefined {
  const hit = nameCache.get(raw);
  if (hit !== undefined) return hit;
  if (!isToken(raw)) return undefined;
  const c = canonicalHeaderName(raw);
  if (nameCache.size < 4096) nameCache.set(raw, c);
  return c;
}

function addHeader(headers: SipHeaders, name: string, raw: string): void {
  const value = trimWsp(raw);
  if (!LIST_HEADERS.has(name) || (name === 'Contact' && value === '*')) headers.pushCanonical(name, value);
  else if (!value.includes(',')) {
    if (value) headers.pushCanonical(name, value);
  } else for (const v of splitList(value)) headers.pushCanonical(name, v);
}

function uriNeedsCheck(uri: string): boolean {
  const c = uri.charCodeAt(0) | 0x20;
  if (c === 0x73 /* s */) {
    const p = uri.slice(0, 5).toLowerCase();
    return p.startsWith('sip:') || p === 'sips:';
  }
  return c === 0x74 /* t */ && uri.slice(0, 4).toLowerCase() === 'tel:';
}

/** Structural check of a From/To/Contact value; returns the defect or undefined. */
function nameAddrProblem(header: string, value: string, starOk: boolean): string | undefined {
  let uri: string;
  try {
    const na = scanNameAddr(value);
    if (na.uri === '*') return starOk ? undefined : `malformed ${header} header: "*" is only allowed in Contact`;
    uri = na.uri;
  } catch (err) {
    if (err instanceof Defect) return `malformed ${header} header: ${err.message}`;
    throw err;
  }
  if (!uriNeedsCheck(uri)) return undefined;
  try {
    scanUri(uri);
  } catch (err) {
    if (err instanceof Defect) return `malformed ${header} header URI "${excerpt(uri, 50)}": ${err.message}`;
    throw err;
  }
  return undefined;
}

/**
 * Parses one SIP message: a UDP datagram or one message cut from a stream by StreamFramer.
 * Tolerant of what real endpoints send (compact and odd-case names, folded lines, bare LF line
 * ends, leading CRLFs, several values per line, extra spaces in the start line); strict about
 * what a server relies on (start line, Via, From, To, Call-ID, CSeq, Max-Forwards, Contact,
 * Content-Length). Everything else stays an unparsed string until someone asks for it.
 * The returned body is a view into `buf`, not a copy.
 */
export function parseMessage(buf: Buffer, opts?: { maxSize?: number }): SipMessage {
  const max = opts?.maxSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (buf.length > max) throw new SipParseError(`message exceeds ${max} bytes`);
  try {
    return parse(buf, max);
  } catch (err) {
    if (err instanceof SipParseError) throw err;
    // Never let a parser bug surface as anything but a typed parse error.
    throw new SipParseError(`internal parser error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parse(buf: Buffer, max: number): SipMessage {
  const len = buf.length;
  let start = 0;
  while (start < len && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start >= len) throw new SipParseError('empty message');
  const end = findHeadEnd(buf, start);
  let headEnd: number;
  let bodyStart: number;
  // A datagram whose last header line is complete but lacks the empty line is accepted (some
  // tools omit it); one that stops mid-line was truncated and is not.
  let truncated = false;
  if (end) {
    headEnd = end.headEnd;
    bodyStart = end.bodyStart;
  } else {
    headEnd = len;
    while (headEnd > start && (buf[headEnd - 1] === 10 || buf[headEnd - 1] === 13)) headEnd--;
    bodyStart = len;
    truncated = buf[len - 1] !== 10;
  }
  const head = buf.toString('utf8', start, headEnd);
  const suspect = hasSuspectBytes(buf, start, headEnd);

  let nl = head.indexOf('\n');
  if (nl < 0) nl = head.length;
  const startLine = head.charCodeAt(nl - 1) === 13 ? head.slice(0, nl - 1) : head.slice(0, nl);
  // A control character in the start line is its defect; like any start-line defect it is
  // reported after the headers are read, so the salvage can still address a 400.
  let startDefect: string | undefined;
  if (suspect) {
    for (let k = 0; k < startLine.length; k++) {
      const c = startLine.charCodeAt(k);
      if ((c < 32 && c !== 9) || c === 127) {
        startDefect = `${controlName(c)} in start line`;
        break;
      }
    }
  }
  const sl = parseStartLine(startLine);
  const headers = new SipHeaders();
  const salvage: SipSalvage = { kind: sl.kind, headers };
  if (sl.kind === 'request' && sl.method) salvage.method = sl.method;
  let firstError = startDefect ?? sl.error;

  // Header lines; a line starting with SP/HTAB continues the previous one (RFC 3261 7.3.1).
  let name: string | undefined;
  let value = '';
  let state: 'none' | 'good' | 'bad' = 'none';
  let pos = nl + 1;
  while (pos < head.length) {
    let e = head.indexOf('\n', pos);
    if (e < 0) e = head.length;
    const lineEnd = head.charCodeAt(e - 1) === 13 ? e - 1 : e;
    const line = head.slice(pos, lineEnd);
    pos = e + 1;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) {
      if (state === 'good') {
        const bad = suspect ? lineDefect(line) : undefined;
        if (bad) {
          firstError ??= `${bad} in ${name} header`;
          state = 'bad';
        } else value += ` ${trimWsp(line)}`;
      } else if (state === 'none') {
        firstError ??= `continuation line without a preceding header: "${excerpt(trimWsp(line))}"`;
        state = 'bad';
      }
      continue;
    }
    if (state === 'good') addHeader(headers, name!, value);
    state = 'bad';
    const colon = line.indexOf(':');
    if (colon < 0) {
      firstError ??= `header line without colon: "${excerpt(line)}"`;
      continue;
    }
    const raw = trimWsp(line.slice(0, colon));
    if (suspect) {
      const bad = lineDefect(line);
      if (bad) {
        firstError ??= `${bad} in ${excerpt(raw, 30) || 'a'} header`;
        continue;
      }
    }
    const cname = raw ? headerName(raw) : undefined;
    if (cname === undefined) {
      firstError ??= raw ? `malformed header name "${excerpt(raw, 40)}"` : `header line without a name: "${excerpt(line)}"`;
      continue;
    }
    name = cname;
    value = line.slice(colon + 1);
    state = 'good';
  }
  if (state === 'good') addHeader(headers, name!, value);
  if (truncated) firstError ??= 'headers not terminated by an empty line (truncated message?)';
  if (firstError !== undefined) throw new SipParseError(firstError, salvage);

  return validate(buf, sl, headers, salvage, bodyStart, max);
}

function validate(buf: Buffer, sl: StartLine, headers: SipHeaders, salvage: SipSalvage, bodyStart: number, max: number): SipMessage {
  const fail = (msg: string): never => {
    throw new SipParseError(msg, salvage);
  };
  const vias: string[] = [];
  const contacts: string[] = [];
  let from: string | undefined;
  let to: string | undefined;
  let callId: string | undefined;
  let cseq: string | undefined;
  let maxForwards: string | undefined;
  let contentLength: string | undefined;
  let nFrom = 0;
  let nTo = 0;
  let nCallId = 0;
  let nCSeq = 0;
  let nMaxForwards = 0;
  for (const [n, v] of headers.entries()) {
    switch (n) {
      case 'Via':
        vias.push(v);
        break;
      case 'From':
        nFrom++;
        from ??= v;
        break;
      case 'To':
        nTo++;
        to ??= v;
        break;
      case 'Call-ID':
        nCallId++;
        callId ??= v;
        break;
      case 'CSeq':
        nCSeq++;
        cseq ??= v;
        break;
      case 'Max-Forwards':
        nMaxForwards++;
        maxForwards ??= v;
        break;
      case 'Contact':
        contacts.push(v);
        break;
      case 'Content-Length':
        // RFC 4475 mcl01: differing values make the framing ambiguous.
        if (contentLength !== undefined && contentLength !== v) fail(`conflicting Content-Length headers (${excerpt(contentLength, 20)} and ${excerpt(v, 20)})`);
        contentLength = v;
        break;
    }
  }
  if (vias.length === 0) fail('missing Via header');
  const single: Array<[string, string | undefined, number]> = [
    ['From', from, nFrom],
    ['To', to, nTo],
    ['Call-ID', callId, nCallId],
    ['CSeq', cseq, nCSeq],
  ];
  for (const [h, v, count] of single) {
    if (count === 0) fail(`missing ${h} header`);
    if (!v) fail(`missing ${h} header (empty value)`);
    if (count > 1) fail(`more than one ${h} header`);
  }
  for (const v of vias) {
    try {
      scanVia(v);
    } catch (err) {
      if (err instanceof Defect) fail(`malformed Via header: ${err.message}`);
      throw err;
    }
  }
  let cs: { seq: number; method: string } | undefined;
  try {
    cs = parseCSeq(cseq!);
  } catch (err) {
    if (err instanceof SipParseError) fail(err.message);
    throw err;
  }
  if (sl.kind === 'request' && cs!.method !== sl.method) fail(`CSeq method ${cs!.method} does not match request method ${sl.method}`);
  const fromProblem = nameAddrProblem('From', from!, false);
  if (fromProblem) fail(fromProblem);
  const toProblem = nameAddrProblem('To', to!, false);
  if (toProblem) fail(toProblem);
  for (let k = 0; k < callId!.length; k++) {
    if (isWsp(callId!.charCodeAt(k))) fail(`malformed Call-ID "${excerpt(callId!)}": contains white space`);
  }
  if (sl.kind === 'request' && nMaxForwards > 0) {
    if (nMaxForwards > 1) fail('more than one Max-Forwards header');
    const mf = maxForwards!;
    if (!/^\d{1,10}$/.test(mf) || Number(mf) > 255) fail(`malformed Max-Forwards "${excerpt(mf, 20)}" (must be 0-255)`);
  }
  if (contacts.length > 0) {
    if (contacts.length > 1 && contacts.includes('*')) fail('Contact "*" must be the only Contact value');
    for (const c of contacts) {
      const problem = nameAddrProblem('Contact', c, true);
      if (problem) fail(problem);
    }
  }

  let body: Buffer;
  if (contentLength !== undefined) {
    const cl = contentLength;
    if (!/^\d{1,20}$/.test(cl)) fail(`malformed Content-Length "${excerpt(cl, 20)}"`);
    if (cl.length > 10 || Number(cl) > max) fail(`Content-Length ${excerpt(cl, 24)} exceeds the maximum message size (${max})`);
    const n = Number(cl);
    const avail = buf.length - bodyStart;
    if (n > avail) fail(`body shorter than Content-Length (${avail} < ${n})`);
    // RFC 3261 18.3: octets past Content-Length in a datagram are discarded (RFC 4475 dblreq).
    body = buf.subarray(bodyStart, bodyStart + n);
  } else body = buf.subarray(bodyStart);

  if (sl.kind === 'request') return { kind: 'request', method: sl.method, uri: sl.uri, headers, body };
  return { kind: 'response', status: sl.status, reason: sl.reason, headers, body };
}
