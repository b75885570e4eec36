/**
 * The SIP message layer against what real endpoints send (test/fixtures/sip/valid), against
 * malformed input (test/fixtures/sip/malformed, classified in corpus.ts) and against a seeded
 * fuzz loop. The contract: parse what endpoints send, reject anything else with SipParseError
 * only, quickly, and leave enough in `salvage` to answer 400/505 whenever Via, From, To,
 * Call-ID and CSeq were readable.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canonicalHeaderName,
  createRequest,
  createResponse,
  formatNameAddr,
  formatUri,
  formatVia,
  parseAuthParams,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseUri,
  parseVia,
  reasonPhrase,
  serializeMessage,
  SipHeaders,
  SipParseError,
  splitList,
  StreamFramer,
  type FramerItem,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/message/index.js';
import { malformed, readFixture, validFixtures } from '../fixtures/sip/corpus.js';

const CRLF = '\r\n';

/** A request or response from header lines; Content-Length is added (correct) unless given. */
function wire(lines: string[], body: string | Buffer = ''): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const hasCl = lines.some((l) => /^(content-length|l)\s*:/i.test(l));
  const head = [...lines, ...(hasCl ? [] : [`Content-Length: ${b.length}`])].join(CRLF) + CRLF + CRLF;
  return Buffer.concat([Buffer.from(head, 'utf8'), b]);
}

const BASIC = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@example.com>',
  'From: Alice <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
];

function options(extra: string[] = [], method = 'OPTIONS'): Buffer {
  return wire([`${method} sip:bob@example.com SIP/2.0`, ...BASIC, `CSeq: 314159 ${method}`, ...extra]);
}

function request(buf: Buffer): SipRequest {
  const m = parseMessage(buf);
  if (m.kind !== 'request') throw new Error(`expected a request, got ${m.status}`);
  return m;
}

function response(buf: Buffer): SipResponse {
  const m = parseMessage(buf);
  if (m.kind !== 'response') throw new Error(`expected a response, got ${m.method}`);
  return m;
}

/** The error parseMessage throws (failing the test if it throws anything else, or nothing). */
function parseError(buf: Buffer): SipParseError {
  try {
    parseMessage(buf);
  } catch (err) {
    if (err instanceof SipParseError) return err;
    throw new Error(`parseMessage threw ${String(err)} instead of a SipParseError`);
  }
  throw new Error('parseMessage accepted a malformed message');
}

/** What a server needs to answer: a request (not ACK) whose Via, From, To, Call-ID and CSeq can be read. */
function answerable(err: SipParseError): boolean {
  const s = err.salvage;
  if (!s || s.kind !== 'request' || !s.headers || s.method === 'ACK') return false;
  for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) if (!s.headers.get(h)) return false;
  try {
    parseVia(s.headers.get('Via')!);
    parseCSeq(s.headers.get('CSeq')!);
  } catch {
    return false;
  }
  return true;
}

/** A parsed message as plain data. Content-Length is left out: the serialiser always rewrites it. */
function shape(m: SipMessage): unknown {
  const headers = [...m.headers.entries()].filter(([n]) => n !== 'Content-Length');
  const start = m.kind === 'request' ? { method: m.method, uri: m.uri } : { status: m.status, reason: m.reason };
  return { kind: m.kind, ...start, headers, body: Buffer.from(m.body).toString('base64') };
}

/** Deterministic PRNG (mulberry32), so a fuzz failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------------------------------

describe('canonicalHeaderName', () => {
  it.each([
    // RFC 3261 7.3.3 compact forms and the registered extensions
    ['a', 'Accept-Contact'],
    ['b', 'Referred-By'],
    ['c', 'Content-Type'],
    ['d', 'Request-Disposition'],
    ['e', 'Content-Encoding'],
    ['f', 'From'],
    ['i', 'Call-ID'],
    ['j', 'Reject-Contact'],
    ['k', 'Supported'],
    ['l', 'Content-Length'],
    ['m', 'Contact'],
    ['n', 'Identity-Info'],
    ['o', 'Event'],
    ['r', 'Refer-To'],
    ['s', 'Subject'],
    ['t', 'To'],
    ['u', 'Allow-Events'],
    ['v', 'Via'],
    ['x', 'Session-Expires'],
    ['y', 'Identity'],
    ['I', 'Call-ID'],
    ['V', 'Via'],
    // odd case and spellings that are not Title-Case
    ['call-id', 'Call-ID'],
    ['CALL-ID', 'Call-ID'],
    ['cseq', 'CSeq'],
    ['CSEQ', 'CSeq'],
    ['www-authenticate', 'WWW-Authenticate'],
    ['Www-Authenticate', 'WWW-Authenticate'],
    ['mime-version', 'MIME-Version'],
    ['rseq', 'RSeq'],
    ['rack', 'RAck'],
    ['min-se', 'Min-SE'],
    ['sip-etag', 'SIP-ETag'],
    ['sip-if-match', 'SIP-If-Match'],
    ['content-id', 'Content-ID'],
    ['MaX-fOrWaRdS', 'Max-Forwards'],
    ['ViA', 'Via'],
    ['content-length', 'Content-Length'],
    ['proxy-authorization', 'Proxy-Authorization'],
    ['p-asserted-identity', 'P-Asserted-Identity'],
    ['record-route', 'Record-Route'],
    ['user-agent', 'User-Agent'],
    // unknown names become Title-Case; white space around the name is not part of it
    ['x-cisco-callinfo', 'X-Cisco-Callinfo'],
    ['newfangledheader', 'Newfangledheader'],
    ['  Via ', 'Via'],
    // names that are Object.prototype members must not resolve to them
    ['constructor', 'Constructor'],
    ['__proto__', '__proto__'],
    ['toString', 'Tostring'],
    ['hasOwnProperty', 'Hasownproperty'],
  ])('%j -> %s', (raw, canonical) => {
    expect(canonicalHeaderName(raw)).toBe(canonical);
  });

  it('parses headers named like Object.prototype members as ordinary headers', () => {
    const m = request(options(['Constructor: x', '__proto__: y', 'toString: z']));
    expect(m.headers.get('constructor')).toBe('x');
    expect(m.headers.get('__proto__')).toBe('y');
    expect(m.headers.get('TOSTRING')).toBe('z');
  });
});

// ------------------------------------------------------------------------------------------

describe('valid fixtures', () => {
  const files = validFixtures();

  it('has at least 20 realistic messages, all with CRLF line ends', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const f of files) {
      const text = readFixture('valid', f).toString('latin1');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      expect(head.includes('\r\n'), f).toBe(true);
      expect(/[^\r]\n/.test(head), `${f} has a bare LF in its headers`).toBe(false);
    }
  });

  it.each(files)('%s parses, and parse(serialize(parse(x))) equals parse(x)', (file) => {
    const raw = readFixture('valid', file);
    const m = parseMessage(raw);
    const wireAgain = serializeMessage(m);
    const again = parseMessage(wireAgain);
    expect(shape(again)).toEqual(shape(m));
    expect(again.headers.getAll('Content-Length')).toEqual([String(m.body.length)]);
    // and it is a fixed point from there on
    expect(serializeMessage(again).equals(wireAgain)).toBe(true);
  });

  it.each(files)('%s: Content-Length, where present, matches the body exactly', (file) => {
    const raw = readFixture('valid', file);
    const m = parseMessage(raw);
    const cl = m.headers.get('Content-Length');
    const bodyStart = raw.indexOf('\r\n\r\n') + 4;
    // RFC 4475 dblreq carries a second request after its Content-Length: 0, to be ignored.
    const end = file === 'rfc4475-dblreq.sip' ? bodyStart : raw.length;
    if (cl !== undefined) expect(Number(cl), file).toBe(end - bodyStart);
    expect(m.body.equals(raw.subarray(bodyStart, end))).toBe(true);
  });

  it.each([
    ['cisco-ce-register.sip', 'REGISTER'],
    ['cisco-ce-invite-sdp.sip', 'INVITE'],
    ['polycom-group-invite-sdp.sip', 'INVITE'],
    ['lifesize-icon-invite-sdp.sip', 'INVITE'],
    ['yealink-register-digest.sip', 'REGISTER'],
    ['yealink-vc-invite-sdp.sip', 'INVITE'],
    ['linphone-register-specs.sip', 'REGISTER'],
    ['linphone-invite-ipv6.sip', 'INVITE'],
    ['baresip-invite-sdp.sip', 'INVITE'],
    ['sipp-uac-invite-default.sip', 'INVITE'],
    ['sipjs-wss-register-instance.sip', 'REGISTER'],
    ['register-contact-star.sip', 'REGISTER'],
    ['tel-invite-ipv6-via-pai.sip', 'INVITE'],
    ['rfc4475-wsinv.sip', 'INVITE'],
    ['rfc4475-intmeth.sip', "!interesting-Method0123456789_*+`.%indeed'~"],
    ['rfc4475-esc01.sip', 'INVITE'],
    ['rfc4475-escnull.sip', 'REGISTER'],
    ['rfc4475-esc02.sip', 'RE%47IST%45R'],
    ['rfc4475-lwsdisp.sip', 'OPTIONS'],
    ['rfc4475-longreq.sip', 'INVITE'],
    ['rfc4475-semiuri.sip', 'OPTIONS'],
    ['rfc4475-transports.sip', 'OPTIONS'],
    ['rfc4475-mpart01.sip', 'MESSAGE'],
    ['rfc4475-unkscm.sip', 'OPTIONS'],
    ['rfc4475-novelsc.sip', 'OPTIONS'],
    ['rfc4475-regaut01.sip', 'REGISTER'],
    ['rfc4475-zeromf.sip', 'OPTIONS'],
    ['rfc4475-cparam01.sip', 'REGISTER'],
    ['rfc4475-regescrt.sip', 'REGISTER'],
    ['rfc4475-inv2543.sip', 'INVITE'],
  ])('%s is a %s request whose Via, From, To, Call-ID and CSeq all read', (file, method) => {
    const m = request(readFixture('valid', file));
    expect(m.method).toBe(method);
    expect(parseCSeq(m.headers.get('CSeq')!).method).toBe(method);
    for (const v of m.headers.getAll('Via')) parseVia(v);
    parseNameAddr(m.headers.get('From')!);
    parseNameAddr(m.headers.get('To')!);
    expect(m.headers.get('Call-ID')).toBeTruthy();
  });

  it.each([
    ['resp-100-trying.sip', 100, 'Trying'],
    ['resp-180-ringing.sip', 180, 'Ringing'],
    ['resp-200-invite-sdp.sip', 200, 'OK'],
    ['resp-401-two-www-authenticate.sip', 401, 'Unauthorized'],
    ['resp-486-busy.sip', 486, 'Busy Here'],
    ['rfc4475-noreason.sip', 100, ''],
    ['rfc4475-bcast.sip', 200, 'OK'],
    ['rfc4475-unreason.sip', 200, '= 2**3 * 5**2 но сто девяносто девять - простое'],
  ])('%s is a %i response with reason %j', (file, status, reason) => {
    const m = response(readFixture('valid', file));
    expect(m.status).toBe(status);
    expect(m.reason).toBe(reason);
  });

  it('RFC 4475 wsinv: folding everywhere, odd spacing and case, compact and long forms mixed', () => {
    const m = request(readFixture('valid', 'rfc4475-wsinv.sip'));
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    const to = parseNameAddr(m.headers.get('To')!);
    expect(to.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(to.params.get('tag')).toBe('1918181833n');
    const from = parseNameAddr(m.headers.get('From')!);
    expect(from.displayName).toBe('J Rosenberg \\"');
    expect(from.params.get('tag')).toBe('98asjd8');
    expect(m.headers.get('Max-Forwards')).toBe('0068');
    expect(parseCSeq(m.headers.get('CSeq')!)).toEqual({ seq: 9, method: 'INVITE' });
    const vias = m.headers.getAll('Via').map(parseVia);
    expect(vias.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(m.headers.get('Subject')).toBe('');
    expect(m.headers.get('NewFangledHeader')).toMatch(/^newfangled value\s+continued newfangled value$/);
    expect(m.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    expect(m.headers.getAll('Route')).toEqual(['<sip:services.example.com;lr;unknownwith=value;unknown-no-value>']);
    const contact = m.headers.getAll('Contact');
    expect(contact).toHaveLength(1);
    const c = parseNameAddr(contact[0]);
    expect(c.displayName).toBe('Quoted string ""');
    expect(c.uri).toBe('sip:jdrosen@example.com');
    expect([...c.params]).toEqual([['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
    expect(m.body.length).toBe(150);
  });

  it('RFC 4475 intmeth: token characters everywhere, quoted BEL/NUL/DEL, UTF-8 values', () => {
    const m = request(readFixture('valid', 'rfc4475-intmeth.sip'));
    const u = parseUri(m.uri);
    expect(u.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(u.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(u.host).toBe('example.com');
    expect(parseVia(m.headers.get('Via')!).branch).toBe("z9hG4bK-.!%66*_+`'~");
    const to = parseNameAddr(m.headers.get('To')!);
    expect(to.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
    expect(parseUri(to.uri).user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    const from = parseNameAddr(m.headers.get('From')!);
    expect(from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(from.params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
    expect(from.params.get('tag')).toBe("_token~1'+`*%!-.");
    expect(m.headers.get('Call-ID')).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    expect(m.headers.get("extensionHeader-!.%*+_`'~")).toBe('\ufeff大停電');
  });

  it('RFC 4475 esc01/escnull/esc02: % escapes are kept, and are no escapes outside URIs', () => {
    const esc01 = request(readFixture('valid', 'rfc4475-esc01.sip'));
    expect(parseUri(esc01.uri)).toMatchObject({ user: 'sips%3Auser%40example.com', host: 'example.net' });
    const contact = parseUri(parseNameAddr(esc01.headers.get('Contact')!).uri);
    expect(contact.user).toBe('cal%6Cer');
    expect(contact.params.get('n%61me')).toBe('v%61lue%25%34%31');
    expect(contact.params.has('%6c%72')).toBe(true);

    const escnull = request(readFixture('valid', 'rfc4475-escnull.sip'));
    expect(escnull.headers.getAll('Contact')).toEqual(['<sip:%00@host5.example.com>', '<sip:%00%00@host5.example.com>']);
    expect(parseUri(parseNameAddr(escnull.headers.get('To')!).uri).user).toBe('null-%00-null');

    const esc02 = request(readFixture('valid', 'rfc4475-esc02.sip'));
    expect(esc02.headers.getAll('Contact')).toHaveLength(2);
    expect(esc02.headers.get('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
    expect(parseNameAddr(esc02.headers.get('To')!).displayName).toBe('%Z%45');
  });

  it('RFC 4475 lwsdisp, longreq, semiuri, transports, mpart01', () => {
    expect(parseNameAddr(request(readFixture('valid', 'rfc4475-lwsdisp.sip')).headers.get('From')!).displayName).toBe('caller');

    const longreq = request(readFixture('valid', 'rfc4475-longreq.sip'));
    expect(longreq.headers.getAll('Via')).toHaveLength(34);
    expect(parseVia(longreq.headers.getAll('Via')[33]).params.get('received')).toBe('192.0.2.5');
    expect(parseUri(parseNameAddr(longreq.headers.get('To')!).uri).port).toBe(6000);
    expect(parseNameAddr(longreq.headers.get('From')!).params.get('tag')).toMatch(/^12(982)+424$/);

    const semiuri = request(readFixture('valid', 'rfc4475-semiuri.sip'));
    expect(parseUri(semiuri.uri)).toMatchObject({ user: 'user;par=u%40example.net', host: 'example.com' });
    expect(semiuri.headers.getAll('Accept')).toEqual([
      'application/sdp', 'application/pkcs7-mime', 'multipart/mixed', 'multipart/signed', 'message/sip', 'message/sipfrag',
    ]);

    const transports = request(readFixture('valid', 'rfc4475-transports.sip'));
    expect(transports.headers.getAll('Via').map((v) => parseVia(v).transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);

    const mpart = request(readFixture('valid', 'rfc4475-mpart01.sip'));
    expect(mpart.body.length).toBe(Number(mpart.headers.get('Content-Length')));
    expect(mpart.body.includes(0)).toBe(true);
    expect(mpart.headers.get('Content-Type')).toBe('multipart/mixed;boundary=7a9cbec02ceef655');
    const binary = request(readFixture('valid', 'message-multipart-binary.sip'));
    expect(binary.body.includes('\r\n\r\nINVITE sip:nobody@example.com SIP/2.0\r\nContent-Length: 99')).toBe(true);
    expect(binary.body.subarray(-24).toString('latin1')).toBe('\r\n--7a9cbec02ceef655--\r\n');
  });

  it('Cisco CE INVITE: SDES crypto lines, H.264 and BFCP survive as the body', () => {
    const m = request(readFixture('valid', 'cisco-ce-invite-sdp.sip'));
    const sdp = m.body.toString('utf8');
    expect(sdp.match(/^a=crypto:/gm)).toHaveLength(5);
    expect(sdp).toMatch(/^m=application 5070 UDP\/BFCP \*\r$/m);
    expect(sdp).toMatch(/^a=rtpmap:97 H264\/90000\r$/m);
    expect(m.headers.get('Content-Type')).toBe('application/sdp');
    const contact = parseNameAddr(m.headers.get('Contact')!);
    expect(contact.params.get('+sip.instance')).toBe('"<urn:uuid:00000000-0000-0000-0000-00507602a1b3>"');
    expect(m.headers.getAll('Supported')).toContain('X-cisco-srtp-fallback');
    const reg = request(readFixture('valid', 'cisco-ce-register.sip'));
    const rc = parseNameAddr(reg.headers.get('Contact')!);
    expect(rc.params.get('+u.sip!devicename.ccm.cisco.com')).toBe('"SEP00507602A1B3"');
    expect(rc.params.get('video')).toBeNull();
    expect(parseVia(reg.headers.get('Via')!)).toMatchObject({ transport: 'TLS', host: '10.10.20.31', port: 5061 });
  });

  it('SIP.js/JsSIP WebSocket REGISTER: WSS Via to an .invalid host, +sip.instance, reg-id, expires', () => {
    const m = request(readFixture('valid', 'sipjs-wss-register-instance.sip'));
    const via = parseVia(m.headers.get('Via')!);
    expect(via).toMatchObject({ transport: 'WSS', host: 'xyz.invalid', branch: 'z9hG4bK1735624' });
    expect(via.port).toBeUndefined();
    const c = parseNameAddr(m.headers.get('Contact')!);
    expect(c.uri).toBe('sip:abc@xyz.invalid;transport=ws');
    expect(parseUri(c.uri).params.get('transport')).toBe('ws');
    expect(c.params.get('reg-id')).toBe('1');
    expect(c.params.get('expires')).toBe('600');
    expect(c.params.get('+sip.ice')).toBeNull();
    expect(c.params.get('+sip.instance')).toBe('"<urn:uuid:4c1b2e6f-8a3d-4f5e-9b7c-0d1e2f3a4b5c>"');
    const auth = parseAuthParams(m.headers.get('Authorization')!);
    expect(auth.scheme).toBe('Digest');
    expect(auth.params.get('algorithm')).toBe('SHA-256');
    expect(auth.params.get('opaque')).toBe('');
  });

  it('Linphone: a quoted Contact parameter with commas stays one value; repeated Accept lines add up', () => {
    const m = request(readFixture('valid', 'linphone-register-specs.sip'));
    const contacts = m.headers.getAll('Contact');
    expect(contacts).toHaveLength(1);
    expect(parseNameAddr(contacts[0]).params.get('+org.linphone.specs')).toBe('"conference/1.0,ephemeral/1.1,groupchat/1.1,lime"');
    expect(m.headers.getAll('Accept')).toEqual(['application/sdp', 'text/plain', 'application/vnd.gsma.rcs-ft-http+xml']);
    expect(parseVia(m.headers.get('Via')!).params.get('alias')).toBeNull();
    expect(parseNameAddr(m.headers.get('To')!).uri).toBe('sip:alice@knude.example.org');

    const v6 = request(readFixture('valid', 'linphone-invite-ipv6.sip'));
    const via = parseVia(v6.headers.get('Via')!);
    expect(via).toMatchObject({ transport: 'UDP', host: '[2001:db8:10::23]', port: 5060 });
    expect(via.params.get('rport')).toBeNull();
    expect(parseUri(parseNameAddr(v6.headers.get('Contact')!).uri)).toMatchObject({ host: '[2001:db8:10::23]', port: 5060 });
  });

  it('tel URIs, two Vias and two identities on one line, quoted display names with commas and escaped quotes', () => {
    const m = request(readFixture('valid', 'tel-invite-ipv6-via-pai.sip'));
    const u = parseUri(m.uri);
    expect(u).toMatchObject({ scheme: 'tel', user: '+46401234', host: '' });
    expect(u.params.get('phone-context')).toBe('+46');
    expect(m.headers.getAll('Via').map((v) => parseVia(v).host)).toEqual(['[2001:db8::5]', 'gw.example.net']);
    expect(m.headers.getAll('Record-Route')).toHaveLength(2);
    const pai = m.headers.getAll('P-Asserted-Identity');
    expect(pai).toEqual(['"Karlsson, Eva" <sip:+4640111222@gw.example.net;user=phone>', '<tel:+4640111222>']);
    expect(parseNameAddr(pai[0]).displayName).toBe('Karlsson, Eva');
    expect(parseNameAddr(m.headers.get('From')!).displayName).toBe('Karlsson, Eva "Doc"');
    expect(m.headers.get('Date')).toBe('Sun, 22 Nov 2026 19:00:00 GMT');
    const contact = parseNameAddr(m.headers.get('Contact')!);
    expect(contact.params.get('q')).toBe('0.7');
  });

  it('401 with two WWW-Authenticate headers: each kept whole, never split at its commas', () => {
    const m = response(readFixture('valid', 'resp-401-two-www-authenticate.sip'));
    const challenges = m.headers.getAll('WWW-Authenticate');
    expect(challenges).toHaveLength(2);
    const parsed = challenges.map(parseAuthParams);
    expect(parsed.map((p) => p.params.get('algorithm'))).toEqual(['SHA-256', 'MD5']);
    expect(parsed[0].params.get('qop')).toBe('auth,auth-int');
    expect(parsed[0].params.get('opaque')).toBe('c2Vzc2lvbiwgb25l');
  });

  it('Contact: * stays a single value; a REGISTER without body reads Content-Length 0', () => {
    const m = request(readFixture('valid', 'register-contact-star.sip'));
    expect(m.headers.getAll('Contact')).toEqual(['*']);
    expect(parseNameAddr('*').uri).toBe('*');
    expect(m.body.length).toBe(0);
  });

  it('SIPp pads Content-Length with spaces; RFC 2543 style INVITE has none (the body runs to the end)', () => {
    const sipp = request(readFixture('valid', 'sipp-uac-invite-default.sip'));
    expect(sipp.headers.get('Content-Length')).toBe(String(sipp.body.length));
    const old = request(readFixture('valid', 'rfc4475-inv2543.sip'));
    expect(old.headers.has('Content-Length')).toBe(false);
    expect(old.body.toString()).toMatch(/^v=0\r\n[\s\S]*m=audio 49217 RTP\/AVP 0\r\n$/);
    expect(parseVia(old.headers.get('Via')!).branch).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------

describe('malformed corpus', () => {
  const onDisk = readdirSync(new URL('../fixtures/sip/malformed/', import.meta.url)).filter((f) => f.endsWith('.sip')).sort();

  it('has at least 100 distinct files, each classified once and listed in the README', () => {
    expect(malformed.length).toBeGreaterThanOrEqual(100);
    expect(new Set(malformed.map((m) => m.file)).size).toBe(malformed.length);
    expect(malformed.map((m) => m.file).sort()).toEqual(onDisk);
    const readme = readFileSync(new URL('../fixtures/sip/malformed/README.md', import.meta.url), 'utf8');
    for (const m of malformed) expect(readme, m.file).toContain(`| ${m.file} |`);
    const contents = new Set(malformed.map((m) => readFixture('malformed', m.file).toString('base64')));
    expect(contents.size).toBe(malformed.length);
    const answerableCount = malformed.filter((m) => m.answerable).length;
    expect(answerableCount).toBeGreaterThanOrEqual(80);
    expect(malformed.length - answerableCount).toBeGreaterThanOrEqual(20);
    for (const m of malformed) expect(m.answerable ? [400, 505] : [undefined], m.file).toContain(m.status);
  });

  it.each(malformed)('$file: $defect', ({ file, keyword, answerable: canAnswer, status }) => {
    const err = parseError(readFixture('malformed', file));
    expect(err.name).toBe('SipParseError');
    expect(err.message).not.toMatch(/^internal parser error/);
    expect(err.message.toLowerCase()).toContain(keyword.toLowerCase());
    expect(answerable(err), `salvage ${canAnswer ? 'lacks' : 'has'} what a 400 needs: ${err.message}`).toBe(canAnswer);
    if (canAnswer) {
      const h = err.salvage!.headers!;
      for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) expect(h.get(name), name).toBeTruthy();
      expect(parseVia(h.get('Via')!).params.has('rport')).toBe(true);
      // The server picks 505 by this prefix (embedded.ts rejectMalformed).
      expect(err.message.startsWith('unsupported SIP version') ? 505 : 400).toBe(status);
    }
  });
});

// ------------------------------------------------------------------------------------------

describe('parseMessage', () => {
  it('reads a minimal request and response', () => {
    const m = request(options());
    expect(m).toMatchObject({ kind: 'request', method: 'OPTIONS', uri: 'sip:bob@example.com' });
    expect(m.headers.get('call-id')).toBe('a84b4c76e66710@pc33.example.com');
    const r = response(wire(['SIP/2.0 404 Not Found', ...BASIC, 'CSeq: 1 INVITE']));
    expect(r).toMatchObject({ kind: 'response', status: 404, reason: 'Not Found' });
  });

  it('unfolds continuation lines (SP or HTAB) into one value', () => {
    const m = request(options(['Subject: I know you are there,', '\tpick up the phone', '   and talk to me!']));
    expect(m.headers.get('Subject')).toMatch(/^I know you are there,\s+pick up the phone\s+and talk to me!$/);
    const v = request(wire(['OPTIONS sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/UDP', '\t192.0.2.1;branch=z9hG4bKfold', ...BASIC.slice(1), 'CSeq: 1 OPTIONS']));
    expect(parseVia(v.headers.get('Via')!).host).toBe('192.0.2.1');
  });

  it('accepts names in any case, compact forms, and white space before the colon', () => {
    const m = request(wire([
      'OPTIONS sip:bob@example.com SIP/2.0',
      'v : SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
      'MAX-FORWARDS: 70',
      't: <sip:bob@example.com>',
      'F   :<sip:alice@example.com>;tag=1',
      'i:abc@def',
      'cseq: 1 OPTIONS',
      'l: 0',
    ]));
    expect([...m.headers.entries()].map(([n]) => n)).toEqual(['Via', 'Max-Forwards', 'To', 'From', 'Call-ID', 'CSeq', 'Content-Length']);
    expect(m.headers.get('Call-ID')).toBe('abc@def');
  });

  it('splits several values per line for list headers only', () => {
    const m = request(options([
      'Allow: INVITE, ACK,CANCEL ,  BYE',
      'Supported: timer,100rel',
      'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
      'Contact: "Doe, John" <sip:john@192.0.2.4>;q=0.7, <sip:john@192.0.2.5>;q=0.3',
      'Authorization: Digest username="bob", realm="a,b", nonce="n", uri="sip:bob@example.com", response="r"',
      'Proxy-Authorization: Digest username="bob", realm="x"',
      'Subject: one, two, three',
      'Date: Sat, 13 Nov 2010 23:29:00 GMT',
      'User-Agent: Vendor/1.0 (model, build 7)',
    ]));
    expect(m.headers.getAll('Allow')).toEqual(['INVITE', 'ACK', 'CANCEL', 'BYE']);
    expect(m.headers.getAll('Supported')).toEqual(['timer', '100rel']);
    expect(m.headers.getAll('Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(m.headers.getAll('Contact')).toEqual(['"Doe, John" <sip:john@192.0.2.4>;q=0.7', '<sip:john@192.0.2.5>;q=0.3']);
    expect(m.headers.getAll('Authorization')).toHaveLength(1);
    expect(parseAuthParams(m.headers.get('Authorization')!).params.get('realm')).toBe('a,b');
    expect(m.headers.getAll('Proxy-Authorization')).toHaveLength(1);
    expect(m.headers.getAll('Subject')).toEqual(['one, two, three']);
    expect(m.headers.getAll('Date')).toEqual(['Sat, 13 Nov 2010 23:29:00 GMT']);
    expect(m.headers.getAll('User-Agent')).toEqual(['Vendor/1.0 (model, build 7)']);
  });

  it('keeps a Via list split on one line and across lines in order', () => {
    const m = request(wire([
      'OPTIONS sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa, SIP/2.0/TCP b.example.com;branch=z9hG4bKb',
      'v: SIP/2.0/TLS c.example.com;branch=z9hG4bKc',
      ...BASIC.slice(1),
      'CSeq: 1 OPTIONS',
    ]));
    expect(m.headers.getAll('Via').map((v) => parseVia(v).host)).toEqual(['a.example.com', 'b.example.com', 'c.example.com']);
  });

  it('tolerates LF line ends, leading CRLFs, and extra spaces in the start line (RFC 4475 lwsstart, trws)', () => {
    const lf = Buffer.from(options().toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    expect(request(lf).headers.get('CSeq')).toBe('314159 OPTIONS');
    expect(request(Buffer.concat([Buffer.from('\r\n\r\n'), options()])).method).toBe('OPTIONS');
    const spaced = options().toString('latin1').replace('OPTIONS sip:bob@example.com SIP/2.0', 'OPTIONS  sip:bob@example.com   SIP/2.0  ');
    expect(request(Buffer.from(spaced, 'latin1')).uri).toBe('sip:bob@example.com');
  });

  it('datagram: octets past Content-Length are ignored (RFC 3261 18.3, RFC 4475 dblreq)', () => {
    const body = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n';
    const buf = wire([...options().toString().split(CRLF).slice(0, 7), 'Content-Type: application/sdp', 'Content-Length: 5'], body);
    const m = request(buf);
    expect(m.body.toString()).toBe('v=0\r\n');
    const dbl = Buffer.concat([options(), options([], 'INVITE')]);
    const first = request(dbl);
    expect(first.method).toBe('OPTIONS');
    expect(first.body.length).toBe(0);
  });

  it('datagram: a Content-Length larger than the body is an error', () => {
    const buf = wire([...options().toString().split(CRLF).slice(0, 7), 'Content-Length: 40'], 'v=0\r\n');
    const err = parseError(buf);
    expect(err.message).toMatch(/Content-Length/);
    expect(answerable(err)).toBe(true);
  });

  it('enforces maxSize before reading anything', () => {
    const big = options([`X-Padding: ${'a'.repeat(2000)}`]);
    expect(request(big).headers.get('X-Padding')).toHaveLength(2000);
    expect(() => parseMessage(big, { maxSize: 1000 })).toThrow(SipParseError);
    expect(() => parseMessage(big, { maxSize: 1000 })).toThrow(/exceeds 1000/);
  });

  it('names NUL bytes in headers but accepts NUL in the body and as a quoted-pair (RFC 4475 intmeth)', () => {
    expect(parseError(options(['Subject: a\x00b'])).message).toMatch(/NUL/);
    expect(request(options(['Subject: "a\\\x00b"'])).headers.get('Subject')).toBe('"a\\\x00b"');
    const withBody = wire([...options().toString().split(CRLF).slice(0, 7)], Buffer.from([0, 1, 2, 0]));
    expect(request(withBody).body).toEqual(Buffer.from([0, 1, 2, 0]));
  });

  it('rejects with salvage when the start line is wrong but the headers read', () => {
    const err = parseError(Buffer.from(options().toString().replace('SIP/2.0\r\n', 'SIP/7.0\r\n')));
    expect(err.message).toMatch(/^unsupported SIP version SIP\/7\.0/);
    expect(err.salvage?.kind).toBe('request');
    expect(err.salvage?.method).toBe('OPTIONS');
    expect(err.salvage?.headers?.get('Call-ID')).toBe('a84b4c76e66710@pc33.example.com');
  });

  it('never answers what it cannot address: no salvage without the headers', () => {
    for (const junk of ['', '\r\n', 'x', '\x16\x03\x01\x00', 'SIP/2.0', 'INVITE', 'INVITE sip:a@b SIP/2.0\r\n\r\n']) {
      const err = parseError(Buffer.from(junk, 'latin1'));
      expect(answerable(err), JSON.stringify(junk)).toBe(false);
    }
  });
});

// ------------------------------------------------------------------------------------------

describe('parseUri / formatUri', () => {
  it.each([
    ['sip:alice@example.com', { scheme: 'sip', user: 'alice', host: 'example.com' }],
    ['SIP:Alice@Example.COM:5070', { scheme: 'sip', user: 'Alice', host: 'Example.COM', port: 5070 }],
    ['sips:bob:secret@192.0.2.4:5061;transport=tls', { scheme: 'sips', user: 'bob', password: 'secret', host: '192.0.2.4', port: 5061 }],
    ['sip:example.com', { scheme: 'sip', host: 'example.com' }],
    ['sip:[2001:db8::1]', { scheme: 'sip', host: '[2001:db8::1]' }],
    ['sip:alice@[2001:db8::1]:5080;transport=tcp', { scheme: 'sip', user: 'alice', host: '[2001:db8::1]', port: 5080 }],
    ['sip:[::ffff:192.0.2.1]:5060', { scheme: 'sip', host: '[::ffff:192.0.2.1]', port: 5060 }],
    ['sip:+4640123@gw.example.net;user=phone', { scheme: 'sip', user: '+4640123', host: 'gw.example.net' }],
    ['tel:+1-201-555-0123', { scheme: 'tel', user: '+1-201-555-0123', host: '' }],
    ['tel:7042;phone-context=example.com', { scheme: 'tel', user: '7042', host: '' }],
    ['tel:*21#;phone-context=+46', { scheme: 'tel', user: '*21#', host: '' }],
    ['urn:service:sos', { scheme: 'urn', host: 'service:sos' }],
    ['sip:user@example.com?Subject=hi&Priority=urgent', { scheme: 'sip', user: 'user', host: 'example.com' }],
  ])('%s', (text, expected) => {
    const u = parseUri(text);
    expect(u).toMatchObject(expected);
    const again = parseUri(formatUri(u));
    expect(again).toEqual(u);
  });

  it('keeps parameters (names lowercased, values as sent) and headers', () => {
    const u = parseUri('sip:alice@example.com;Transport=TCP;lr;maddr=239.255.255.1?Subject=Hello%20there&Call-ID=1@x');
    expect([...u.params]).toEqual([['transport', 'TCP'], ['lr', null], ['maddr', '239.255.255.1']]);
    expect(u.headers.get('Subject')).toBe('Hello%20there');
    expect(formatUri(u)).toBe('sip:alice@example.com;transport=TCP;lr;maddr=239.255.255.1?Subject=Hello%20there&Call-ID=1@x');
  });

  it.each([
    '',
    'alice@example.com',
    ':alice@example.com',
    '1sip:alice@example.com',
    'sip:',
    'sip:alice@',
    'sip:@example.com',
    'sip:alice@example.com:99999',
    'sip:alice@example.com:',
    'sip:alice@example.com:5o6o',
    'sip:alice@[2001:db8::1',
    'sip:alice@[not-v6]',
    'sip:alice@exa mple.com',
    'sip:alice@exa!mple.com',
    'sip:"alice"@example.com',
    'sip:<alice>@example.com',
    'sip:alice\x00@example.com',
    'tel:',
    'tel:+',
    'tel:call-me',
  ])('rejects %j with SipParseError', (text) => {
    expect(() => parseUri(text)).toThrow(SipParseError);
  });
});

describe('parseNameAddr / formatNameAddr', () => {
  it.each([
    ['"Bob" <sip:bob@example.com>;tag=a6c85cf', 'Bob', 'sip:bob@example.com', [['tag', 'a6c85cf']]],
    ['Bob <sip:bob@example.com>', 'Bob', 'sip:bob@example.com', []],
    ['Bob Smith<sip:bob@example.com>', 'Bob Smith', 'sip:bob@example.com', []],
    ['<sip:bob@example.com>', undefined, 'sip:bob@example.com', []],
    ['"Doe, John" <sip:john@example.com>', 'Doe, John', 'sip:john@example.com', []],
    ['"Say \\"hi\\" \\\\o/" <sip:a@b>', 'Say "hi" \\o/', 'sip:a@b', []],
    ['""<sip:a@b>', '', 'sip:a@b', []],
    ['  "A"   <sip:a@b>  ;  tag = x  ;lr', 'A', 'sip:a@b', [['tag', 'x'], ['lr', null]]],
    // addr-spec: parameters after the URI are header parameters (RFC 3261 20)
    ['sip:bob@example.com;tag=1', undefined, 'sip:bob@example.com', [['tag', '1']]],
    ['sip:bob@example.com ; tag=1;expires=60', undefined, 'sip:bob@example.com', [['tag', '1'], ['expires', '60']]],
    // name-addr: parameters inside <> belong to the URI
    ['<sip:bob@example.com;transport=tcp>;tag=1', undefined, 'sip:bob@example.com;transport=tcp', [['tag', '1']]],
    ['<sip:bob@[2001:db8::9]:5070;transport=udp>;expires=600;+sip.instance="<urn:uuid:1>"', undefined, 'sip:bob@[2001:db8::9]:5070;transport=udp', [['expires', '600'], ['+sip.instance', '"<urn:uuid:1>"']]],
    ['<tel:+46401234>;tag=9', undefined, 'tel:+46401234', [['tag', '9']]],
    ['*', undefined, '*', []],
  ])('%j', (text, displayName, uri, params) => {
    const na = parseNameAddr(text);
    expect(na.displayName).toBe(displayName);
    expect(na.uri).toBe(uri);
    expect([...na.params]).toEqual(params);
    const again = parseNameAddr(formatNameAddr(na));
    expect(again).toEqual(na);
  });

  it('formats the <> form, quoting the display name', () => {
    expect(formatNameAddr(parseNameAddr('sip:bob@example.com;tag=1'))).toBe('<sip:bob@example.com>;tag=1');
    expect(formatNameAddr({ displayName: 'A "B" \\ C', uri: 'sip:a@b', params: new Map() })).toBe('"A \\"B\\" \\\\ C" <sip:a@b>');
    expect(formatNameAddr({ uri: '*', params: new Map() })).toBe('*');
  });

  it.each([
    '',
    '"unterminated <sip:a@b>',
    '"Bob" sip:bob@example.com',
    '<sip:bob@example.com',
    '<>',
    '<sip:bob@exa mple.com>',
    'Bell, Alexander <sip:a.g.bell@example.com>',
    'sip:bob@example.com?subject=x',
    '<sip:a@b>;;',
    '<sip:a@b>;tag="open',
    '<sip:a@b> junk',
    'nobody',
  ])('rejects %j with SipParseError', (text) => {
    expect(() => parseNameAddr(text)).toThrow(SipParseError);
  });
});

describe('parseVia / formatVia', () => {
  it.each([
    ['SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9', { transport: 'UDP', host: '192.0.2.1', port: 5060, branch: 'z9hG4bK74bf9' }],
    ['SIP/2.0/tcp pc33.example.com;branch=z9hG4bK1', { transport: 'TCP', host: 'pc33.example.com', branch: 'z9hG4bK1' }],
    ['SIP / 2.0 / UDP host.example.com ; branch = z9hG4bK2', { transport: 'UDP', host: 'host.example.com', branch: 'z9hG4bK2' }],
    ['SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK3', { transport: 'UDP', host: '[2001:db8::9]', port: 5070 }],
    ['SIP/2.0/UDP [2001:db8::9];branch=z9hG4bK4', { transport: 'UDP', host: '[2001:db8::9]' }],
    ['SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf', { transport: 'WSS', host: 'df7jal23ls0d.invalid' }],
    ['SIP/2.0/TLS t3.example.com:5061;branch=z9hG4bK5;rport;received=198.51.100.7', { transport: 'TLS', port: 5061 }],
  ])('%s', (text, expected) => {
    const v = parseVia(text);
    expect(v).toMatchObject(expected);
    expect(parseVia(formatVia(v))).toEqual(v);
  });

  it('reads rport without a value, rport with one, and received', () => {
    const v = parseVia('SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKx;rport;received=192.0.2.9');
    expect(v.params.get('rport')).toBeNull();
    expect(v.params.get('received')).toBe('192.0.2.9');
    v.params.set('rport', '40123');
    expect(formatVia(v)).toBe('SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKx;rport=40123;received=192.0.2.9');
    const v6 = parseVia('SIP/2.0/UDP [2001:db8::1];received=2001:db8::2;rport=5062');
    expect(v6.params.get('received')).toBe('2001:db8::2');
    expect(v6.params.get('rport')).toBe('5062');
  });

  it.each([
    '',
    'SIP/2.0 192.0.2.1:5060',
    'SIP/2.0/UDP',
    'SIP/2.0/UDP ;branch=z9hG4bK',
    'SIP/3.0/UDP 192.0.2.1',
    'HTTP/1.1/TCP 192.0.2.1',
    'SIP/2.0/UDP 192.0.2.1:99999',
    'SIP/2.0/UDP 192.0.2.1:0',
    'SIP/2.0/UDP 192.0.2.1:abc',
    'SIP/2.0/UDP [2001:db8::1',
    'SIP/2.0/UDP 192.0.2.1;;',
    'SIP/2.0/UDP 192.0.2.1;branch="z9hG4bK',
    'SIP/2.0/UDP 192.0.2.1 junk',
  ])('rejects %j with SipParseError', (text) => {
    expect(() => parseVia(text)).toThrow(SipParseError);
  });
});

describe('parseCSeq', () => {
  it.each([
    ['1 INVITE', 1, 'INVITE'],
    ['0009\t INVITE', 9, 'INVITE'],
    ['  314159   OPTIONS  ', 314159, 'OPTIONS'],
    ['0 ACK', 0, 'ACK'],
    ['2147483647 BYE', 2147483647, 'BYE'],
    ["139122385 !interesting-Method0123456789_*+`.%indeed'~", 139122385, "!interesting-Method0123456789_*+`.%indeed'~"],
  ])('%j', (text, seq, method) => {
    expect(parseCSeq(text)).toEqual({ seq, method });
  });

  it.each(['', 'INVITE', '1', '1INVITE', '-1 INVITE', 'one INVITE', '1 INVITE x', '1 INV/ITE', '2147483648 INVITE', '36893488147419103232 REGISTER'])(
    'rejects %j with SipParseError',
    (text) => {
      expect(() => parseCSeq(text)).toThrow(SipParseError);
    },
  );

  it('names the 2**31 limit', () => {
    expect(() => parseCSeq('2147483648 INVITE')).toThrow(/2\*\*31/);
  });
});

describe('parseAuthParams', () => {
  it('reads Digest credentials with quoted commas and escaped quotes', () => {
    const a = parseAuthParams(
      'Digest username="bob", realm="biloxi.example.com, annex", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.example.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", note="say \\"hi\\""',
    );
    expect(a.scheme).toBe('Digest');
    expect(a.params.get('username')).toBe('bob');
    expect(a.params.get('realm')).toBe('biloxi.example.com, annex');
    expect(a.params.get('qop')).toBe('auth');
    expect(a.params.get('nc')).toBe('00000001');
    expect(a.params.get('note')).toBe('say "hi"');
    expect(a.params.size).toBe(10);
  });

  it.each([
    ['Digest realm="a"', 'Digest', [['realm', 'a']]],
    ['Digest  REALM = "a" ,NONCE="b",algorithm=MD5', 'Digest', [['realm', 'a'], ['nonce', 'b'], ['algorithm', 'MD5']]],
    ['Digest realm="x",qop="auth,auth-int",stale=TRUE', 'Digest', [['realm', 'x'], ['qop', 'auth,auth-int'], ['stale', 'TRUE']]],
    ['NoOneKnowsThisScheme opaque-data=here', 'NoOneKnowsThisScheme', [['opaque-data', 'here']]],
    ['Digest realm=""', 'Digest', [['realm', '']]],
  ])('%j', (text, scheme, params) => {
    const a = parseAuthParams(text);
    expect(a.scheme).toBe(scheme);
    expect([...a.params]).toEqual(params);
  });

  it.each(['', '"Digest" realm="a"', 'Digest realm nonce="b"', 'Digest realm="open', 'Digest realm="a" nonce="b"', 'Digest =x'])(
    'rejects %j with SipParseError',
    (text) => {
      expect(() => parseAuthParams(text)).toThrow(SipParseError);
    },
  );
});

describe('splitList', () => {
  it.each([
    ['INVITE, ACK,BYE', ['INVITE', 'ACK', 'BYE']],
    ['one', ['one']],
    ['', []],
    [' , ,a,, ', ['a']],
    ['"Doe, John" <sip:j@x>, <sip:k@y;a=b,c>', ['"Doe, John" <sip:j@x>', '<sip:k@y;a=b,c>']],
    ['"a \\" , b" <sip:a@b>, c', ['"a \\" , b" <sip:a@b>', 'c']],
    ['<sip:a@b>;+sip.instance="<urn:uuid:1>";x="1,2", <sip:c@d>', ['<sip:a@b>;+sip.instance="<urn:uuid:1>";x="1,2"', '<sip:c@d>']],
  ])('%j', (text, parts) => {
    expect(splitList(text)).toEqual(parts);
  });
});

// ------------------------------------------------------------------------------------------

describe('serializeMessage, createRequest, createResponse, reasonPhrase, SipHeaders', () => {
  it('builds a request that parses back, with canonical names and a correct Content-Length', () => {
    const req = createRequest(
      'INVITE',
      'sip:bob@example.com',
      [
        ['v', 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnew'],
        ['max-forwards', '70'],
        ['f', '<sip:alice@example.com>;tag=1'],
        ['t', '<sip:bob@example.com>'],
        ['call-id', 'c@x'],
        ['cseq', '1 INVITE'],
        ['content-length', '999'],
        ['c', 'application/sdp'],
      ],
      'v=0\r\n',
    );
    const text = serializeMessage(req).toString();
    expect(text).toBe(
      'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnew\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c@x\r\nCSeq: 1 INVITE\r\nContent-Length: 5\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n',
    );
    expect(shape(parseMessage(Buffer.from(text)))).toEqual(shape(req));
  });

  it('answers with the standard reason phrase by default', () => {
    const res = createResponse(486, undefined, [['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'], ['CSeq', '1 INVITE']]);
    expect(res.reason).toBe('Busy Here');
    expect(serializeMessage(res).toString()).toMatch(/^SIP\/2\.0 486 Busy Here\r\nVia: .*\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n$/);
    expect(createResponse(200, 'Fine').reason).toBe('Fine');
  });

  it('never lets a CR or LF in a value start a new header line', () => {
    const req = createRequest('OPTIONS', 'sip:a@b', [['Subject', 'x\r\nVia: SIP/2.0/UDP evil;branch=z9hG4bKevil']]);
    const text = serializeMessage(req).toString();
    expect(text.split('\r\n').filter((l) => l.startsWith('Via'))).toEqual([]);
  });

  it.each([
    [100, 'Trying'], [180, 'Ringing'], [183, 'Session Progress'], [200, 'OK'], [202, 'Accepted'],
    [302, 'Moved Temporarily'], [400, 'Bad Request'], [401, 'Unauthorized'], [403, 'Forbidden'], [404, 'Not Found'],
    [407, 'Proxy Authentication Required'], [408, 'Request Timeout'], [423, 'Interval Too Brief'],
    [480, 'Temporarily Unavailable'], [481, 'Call/Transaction Does Not Exist'], [486, 'Busy Here'],
    [487, 'Request Terminated'], [488, 'Not Acceptable Here'], [500, 'Server Internal Error'], [501, 'Not Implemented'],
    [503, 'Service Unavailable'], [505, 'Version Not Supported'], [603, 'Decline'],
  ])('reasonPhrase(%i) = %s', (code, phrase) => {
    expect(reasonPhrase(code)).toBe(phrase);
  });

  it('has a phrase for unregistered codes of every class', () => {
    for (const code of [199, 299, 399, 499, 599, 699]) expect(reasonPhrase(code)).toMatch(/\S/);
  });

  it('SipHeaders keeps order, one entry per value, and looks names up canonically', () => {
    const h = new SipHeaders([['v', 'a'], ['Via', 'b'], ['i', 'c1']]);
    expect(h.getAll('VIA')).toEqual(['a', 'b']);
    expect(h.get('call-id')).toBe('c1');
    expect(h.has('Call-ID')).toBe(true);
    expect(h.has('To')).toBe(false);
    h.prepend('Via', 'top');
    expect(h.getAll('Via')).toEqual(['top', 'a', 'b']);
    h.append('Record-Route', '<sip:p;lr>');
    h.prepend('Record-Route', '<sip:q;lr>');
    expect(h.getAll('Record-Route')).toEqual(['<sip:q;lr>', '<sip:p;lr>']);
    h.set('Via', ['x', 'y']);
    expect([...h.entries()].map(([n, v]) => `${n}=${v}`)).toEqual(['Via=x', 'Via=y', 'Call-ID=c1', 'Record-Route=<sip:q;lr>', 'Record-Route=<sip:p;lr>']);
    h.set('Expires', '60');
    expect([...h.entries()].at(-1)).toEqual(['Expires', '60']);
    const copy = h.clone();
    h.remove('Via');
    expect(h.has('Via')).toBe(false);
    expect(copy.getAll('Via')).toEqual(['x', 'y']);
    expect(h.size).toBe(4);
    h.prepend('Max-Forwards', '70');
    expect([...h.entries()][0]).toEqual(['Max-Forwards', '70']);
  });

  it('SipParseError is an Error named SipParseError', () => {
    const e = new SipParseError('x');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('SipParseError');
    expect(e.salvage).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------

describe('StreamFramer', () => {
  const inv = readFixture('valid', 'cisco-ce-invite-sdp.sip');
  const reg = readFixture('valid', 'sipjs-wss-register-instance.sip');
  const mpart = readFixture('valid', 'message-multipart-binary.sip'); // its body holds CRLFCRLF and a fake Content-Length
  const ping = Buffer.from('\r\n\r\n');
  const pong = Buffer.from('\r\n');
  const stream = Buffer.concat([inv, ping, reg, pong, mpart]);
  const pingAt = inv.length;

  function describeItems(items: FramerItem[]): string[] {
    return items.map((it) => {
      if ('message' in it) return `message:${it.message.toString('base64')}`;
      if ('keepalive' in it) return it.keepalive;
      return `error:${it.error.message}`;
    });
  }
  const expected = [inv, 'ping', reg, 'pong', mpart].map((x) => (typeof x === 'string' ? x : `message:${x.toString('base64')}`));

  it('cuts several messages and keep-alives from one chunk', () => {
    const f = new StreamFramer();
    expect(describeItems(f.push(stream))).toEqual(expected);
    expect(describeItems(f.push(pong))).toEqual(['pong']);
  });

  it('gives the same result whatever byte boundary the stream is split at', () => {
    for (let k = 0; k <= stream.length; k++) {
      const f = new StreamFramer();
      const got = describeItems([...f.push(stream.subarray(0, k)), ...f.push(stream.subarray(k))]);
      // A ping split after its first CRLF reads as two pongs (documented in framer.ts).
      const want = k === pingAt + 2 ? expected.flatMap((x) => (x === 'ping' ? ['pong', 'pong'] : [x])) : expected;
      if (got.join('\n') !== want.join('\n')) expect(got, `split at ${k}`).toEqual(want);
    }
  });

  it('reassembles messages pushed one byte at a time', () => {
    const f = new StreamFramer();
    const bytes = Buffer.concat([inv, pong, mpart, reg]);
    const items: FramerItem[] = [];
    for (let k = 0; k < bytes.length; k++) items.push(...f.push(bytes.subarray(k, k + 1)));
    expect(describeItems(items)).toEqual([inv, 'pong', mpart, reg].map((x) => (typeof x === 'string' ? x : `message:${x.toString('base64')}`)));
  });

  it('frames messages that parse to what the datagram parser reads', () => {
    const f = new StreamFramer();
    const msgs = f.push(stream).flatMap((it) => ('message' in it ? [it.message] : []));
    expect(msgs.map((m) => shape(parseMessage(m)))).toEqual([inv, reg, mpart].map((m) => shape(parseMessage(m))));
  });

  it('a stream message without Content-Length is an error, and the framer stays failed', () => {
    const f = new StreamFramer();
    const items = f.push(Buffer.concat([reg, readFixture('valid', 'rfc4475-inv2543.sip')]));
    expect(describeItems(items.slice(0, 1))).toEqual([`message:${reg.toString('base64')}`]);
    const err = items[1];
    expect(err && 'error' in err && err.error).toBeInstanceOf(SipParseError);
    expect(err && 'error' in err && err.error.message).toMatch(/Content-Length/);
    expect(items).toHaveLength(2);
    expect(f.push(reg)).toEqual([]);
  });

  it('an oversize message is an error, with or without its headers complete, and the framer stays failed', () => {
    const small = new StreamFramer({ maxMessageSize: 1000 });
    const items = small.push(inv);
    expect(items).toHaveLength(1);
    expect('error' in items[0] && items[0].error.message).toMatch(/exceeds 1000/);
    expect(small.push(reg)).toEqual([]);
    expect(small.push(pong)).toEqual([]);

    const endless = new StreamFramer({ maxMessageSize: 4096 });
    const line = Buffer.from(`X-Filler: ${'z'.repeat(100)}\r\n`);
    let errors = 0;
    expect(endless.push(Buffer.from('INVITE sip:a@b SIP/2.0\r\n'))).toEqual([]);
    for (let k = 0; k < 100; k++) {
      for (const it of endless.push(line)) {
        if ('error' in it) errors++;
        else throw new Error('unexpected item');
      }
    }
    expect(errors).toBe(1);
  });

  it('rejects a malformed or negative Content-Length in a stream', () => {
    for (const cl of ['-1', 'abc', '12x']) {
      const f = new StreamFramer();
      const items = f.push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nContent-Length: ${cl}\r\n\r\n`));
      expect(items.length, cl).toBe(1);
      expect('error' in items[0]).toBe(true);
    }
  });

  it('costs linear time for a message trickled byte by byte', () => {
    const big = wire(['INVITE sip:a@b SIP/2.0', ...BASIC, 'CSeq: 1 INVITE', ...Array.from({ length: 500 }, (_, k) => `X-H${k}: ${'v'.repeat(100)}`)]);
    const f = new StreamFramer();
    const t0 = performance.now();
    let got = 0;
    for (let k = 0; k < big.length; k++) got += f.push(big.subarray(k, k + 1)).length;
    expect(got).toBe(1);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

// ------------------------------------------------------------------------------------------

describe('fuzz', () => {
  const seeds = validFixtures().map((f) => readFixture('valid', f));
  const tokens = [
    ':', ';', ',', '<', '>', '"', '\\', '\r\n', '\n', '\r', ' ', '\t', '\0', '@', '[', ']', '=', '%', '?', '*',
    '\r\n\r\n', '\r\n ', 'SIP/2.0', 'SIP/7.0', 'Content-Length: 99999', 'l: 0\r\n', 'v: SIP/2.0/UDP ', ';branch=',
    'Via: SIP/2.0/UDP [::1]:99999\r\n', 'CSeq: 2147483648 INVITE\r\n', '\xff\xfe', 'é', '"\\', 'sip:', 'tel:', '<sip:',
  ].map((t) => Buffer.from(t, t === '\xff\xfe' ? 'latin1' : 'utf8'));

  function mutate(rand: () => number, input: Buffer): Buffer {
    let b = Buffer.from(input);
    const pick = (n: number): number => Math.floor(rand() * n);
    const ops = 1 + pick(4);
    for (let o = 0; o < ops; o++) {
      const at = pick(b.length + 1);
      switch (pick(7)) {
        case 0: // flip one byte
          if (b.length) b[Math.min(at, b.length - 1)] = pick(256);
          break;
        case 1: // truncate
          b = b.subarray(0, at);
          break;
        case 2: // insert random bytes
          b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))), b.subarray(at)]);
          break;
        case 3: // insert a syntax-laden token
          b = Buffer.concat([b.subarray(0, at), tokens[pick(tokens.length)], b.subarray(at)]);
          break;
        case 4: // delete a range
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + pick(24)))]);
          break;
        case 5: {
          // duplicate a slice somewhere else (repeated headers, doubled lines)
          const from = pick(b.length + 1);
          const slice = b.subarray(from, Math.min(b.length, from + 1 + pick(64)));
          b = Buffer.concat([b.subarray(0, at), slice, b.subarray(at)]);
          break;
        }
        default: // change the case of a byte (names are case-insensitive, values are not)
          if (b.length) {
            const k = Math.min(at, b.length - 1);
            b[k] = b[k] ^ 0x20;
          }
      }
    }
    return b;
  }

  it('5,000 seeded mutations of the valid fixtures: only SipParseError, none hangs', () => {
    const rand = prng(0x5ee0);
    const failures: string[] = [];
    let accepted = 0;
    let slowest = 0;
    for (let n = 0; n < 5000; n++) {
      const input = mutate(rand, seeds[Math.floor(rand() * seeds.length)]);
      const t0 = performance.now();
      try {
        const m = parseMessage(input);
        accepted++;
        // Whatever the parser accepts, the serialiser must turn into something it accepts again.
        const again = parseMessage(serializeMessage(m));
        if (JSON.stringify(shape(again)) !== JSON.stringify(shape(m))) failures.push(`#${n}: round trip changed the message`);
      } catch (err) {
        if (!(err instanceof SipParseError)) failures.push(`#${n}: ${String(err)} for ${JSON.stringify(input.toString('latin1').slice(0, 200))}`);
        else if (err.message.startsWith('internal parser error')) failures.push(`#${n}: ${err.message} for ${JSON.stringify(input.toString('latin1').slice(0, 200))}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(failures.slice(0, 10)).toEqual([]);
    // A guard against catastrophic (super-linear) parsing, not a speed target: that is in bench/.
    expect(slowest).toBeLessThan(1000);
    // The mutations are small: a good share of them still parse.
    expect(accepted).toBeGreaterThan(100);
  });

  it('the header parsers throw nothing but SipParseError on mutated header values', () => {
    const rand = prng(0xbeef);
    const values: Array<[string, string]> = [];
    for (const buf of seeds) {
      try {
        for (const e of parseMessage(buf).headers.entries()) values.push(e);
      } catch {
        // every seed parses (tested above)
      }
    }
    const parsers: Record<string, Array<(v: string) => unknown>> = {
      Via: [parseVia],
      From: [parseNameAddr, (v) => parseUri(parseNameAddr(v).uri)],
      To: [parseNameAddr],
      Contact: [parseNameAddr, (v) => parseUri(parseNameAddr(v).uri)],
      Route: [parseNameAddr],
      'Record-Route': [parseNameAddr],
      CSeq: [parseCSeq],
      Authorization: [parseAuthParams],
      'WWW-Authenticate': [parseAuthParams],
    };
    const failures: string[] = [];
    for (let n = 0; n < 5000; n++) {
      const [name, value] = values[Math.floor(rand() * values.length)];
      const text = mutate(rand, Buffer.from(value, 'utf8')).toString('utf8');
      for (const fn of [...(parsers[name] ?? [parseUri]), splitList]) {
        try {
          fn(text);
        } catch (err) {
          if (!(err instanceof SipParseError)) failures.push(`${name} ${JSON.stringify(text)}: ${String(err)}`);
        }
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it('hostile shapes stay fast: huge lists, deep nesting, long folds, many headers', () => {
    const cases = [
      options([`Allow: ${'A,'.repeat(20000)}`]),
      options([`Contact: ${'<'.repeat(20000)}`]),
      options([`Subject: ${'"\\'.repeat(15000)}`]),
      options(['Subject: x', ...Array.from({ length: 8000 }, () => ' y')]),
      options(Array.from({ length: 4000 }, (_, k) => `X-${k}: ${k}`)),
      Buffer.from(`OPTIONS sip:${'a'.repeat(60000)}@b SIP/2.0\r\n\r\n`),
      Buffer.from(`${'\r\n'.repeat(30000)}x`),
      Buffer.from(`INVITE sip:a@b SIP/2.0\r\n${'Via: SIP/2.0/UDP h;branch=z9hG4bK;'.repeat(1500)}\r\n\r\n`),
    ];
    for (const c of cases) {
      const t0 = performance.now();
      try {
        parseMessage(c);
      } catch (err) {
        expect(err).toBeInstanceOf(SipParseError);
      }
      // Hostile input must not make parsing super-linear; the bound is far above normal cost.
      expect(performance.now() - t0, c.toString('latin1', 0, 60)).toBeLessThan(1000);
    }
  });
});
