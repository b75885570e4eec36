/**
 * drachtio-srf compatibility of the embedded SIP server: EmbeddedSipServer runs alone (no knude
 * application on it) and this file connects its own drachtio-srf app, then drives every srf
 * feature an app on a real drachtio-server relies on against real SIPp peers: request handlers,
 * createUAS with in-dialog requests from the network, createUAC with in-dialog requests from the
 * app, createB2BUA, proxyRequest (record-routed, serial failover), CANCEL of a createUAC, and
 * Srf.parseUri. The protocol the server must speak is docs/drachtio-protocol.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Srf from 'drachtio-srf';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSipServer } from '../../src/sip/server/embedded.js';
import { freePort } from '../helpers/ports.js';
import { describeSippResult, runSipp, sendRaw, startSippServer, stopAll, type SippResult } from '../helpers/sipp.js';

type Req = Srf.SrfRequest & { stackTxnId?: string; stackDialogId?: string };
type Res = Srf.SrfResponse;
type Handler = (req: Req, res: Res) => void;
type Method = 'invite' | 'register' | 'options' | 'info' | 'message' | 'subscribe';
const METHODS: Method[] = ['invite', 'register', 'options', 'info', 'message', 'subscribe'];

/** What srf's proxyRequest resolves with (request.js:proxy); its typings say `string`. */
interface ProxyResult {
  connected: boolean;
  finalStatus: number;
  finalResponse: { status: number; msg: Srf.SipMessage };
  responses: Array<{ address: string; port: number; msgs: Array<{ status: number; msg: Srf.SipMessage }> }>;
}

/** The srf surface this file uses that the bundled typings lack or type too narrowly. */
interface SrfLoose {
  register(h: Handler): void;
  options(h: Handler): void;
  info(h: Handler): void;
  message(h: Handler): void;
  subscribe(h: Handler): void;
  proxyRequest(req: Req, dest: string | string[], opts: Srf.ProxyRequestOptions): Promise<ProxyResult>;
  createUAC(
    uri: string,
    opts: Srf.CreateUACOptions,
    cbs: { cbRequest?: (err: Error | null, req: Req) => void; cbProvisional?: (res: Res) => void },
  ): Promise<Srf.Dialog>;
}

interface SipError extends Error {
  status: number;
}

const HOST = '127.0.0.1';
const SECRET = randomBytes(8).toString('hex');

let dir: string;
let server: EmbeddedSipServer;
let srf: Srf;
let sip: string; // host:port of the server's UDP/TCP listener

/** Per-test request handlers; a method without one is answered 500 by the app. */
const handlers: Partial<Record<Method, Handler>> = {};

function sdp(version: number, direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive', port = 40000): string {
  return [
    'v=0',
    `o=srf-test 1234 ${version} IN IP4 ${HOST}`,
    's=-',
    `c=IN IP4 ${HOST}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    `a=${direction}`,
    '',
  ].join('\r\n');
}

function expectOk(r: SippResult): void {
  expect(r.ok, describeSippResult(r)).toBe(true);
}

/** Bounds an app-side promise so a missing message fails the test instead of hanging it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/**
 * A promise with its resolve/reject functions, for events the test waits on. It counts as
 * handled from the start: an app-side failure before the test awaits it is no unhandled rejection.
 */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A raw out-of-dialog request over UDP (one Via, fresh tag / branch / Call-ID). */
function rawRequest(method: string, localPort: number, extra: string[], body = ''): string {
  const tag = randomBytes(4).toString('hex');
  return [
    `${method} sip:service@${sip} SIP/2.0`,
    `Via: SIP/2.0/UDP ${HOST}:${localPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:raw@${HOST}:${localPort}>;tag=${tag}`,
    `To: <sip:service@${sip}>`,
    `Call-ID: ${randomBytes(8).toString('hex')}@${HOST}`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:raw@${HOST}:${localPort}>`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/**
 * The requests a SIPp instance received, in order, from its -trace_msg file: blocks after a
 * "----- <time>" line, headed "UDP message received [n] bytes :" (or "... sent (n bytes):").
 */
function receivedRequests(messagesLog: string): string[] {
  return readFileSync(messagesLog, 'utf8')
    .split(/^-{10,} .*$/m)
    .map((b) => b.replace(/\r/g, '').trim())
    .filter((b) => /^\w+ message received/.test(b))
    .map((b) => b.slice(b.indexOf('\n')).trim())
    .filter((m) => !m.startsWith('SIP/2.0'));
}

function statusOf(msg: string): number {
  return Number(/^SIP\/2\.0 (\d{3})/.exec(msg)?.[1] ?? 0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'knude-drachtio-compat-'));
  const log = pino({ level: 'debug' }, pino.destination({ dest: join(dir, 'server.log'), sync: true }));
  const port = await freePort('both');
  server = new EmbeddedSipServer({
    listen: [
      { transport: 'udp', address: HOST, port },
      { transport: 'tcp', address: HOST, port },
    ],
    externalAddress: null,
    transport: { maxMessageBytes: 65_535, idleMs: 120_000 },
    control: { address: HOST, port: 0, secret: SECRET },
    log,
  });
  await server.start();
  sip = `${HOST}:${port}`;

  srf = new Srf();
  const loose = srf as unknown as SrfLoose;
  const dispatch = (m: Method): Handler => (req, res) => {
    const h = handlers[m];
    if (h) h(req, res);
    else res.send(500, 'No Test Handler', {});
  };
  srf.invite(dispatch('invite'));
  loose.register(dispatch('register'));
  loose.options(dispatch('options'));
  loose.info(dispatch('info'));
  loose.message(dispatch('message'));
  loose.subscribe(dispatch('subscribe'));
  srf.on('error', () => {});
  const connected = new Promise<string>((resolve, reject) => {
    srf.on('connect', (err: Error | null, hostport: string) => (err ? reject(err) : resolve(hostport)));
  });
  srf.connect({ host: HOST, port: server.controlPort, secret: SECRET });
  const hostport = await within(connected, 5000, 'srf connect');
  expect(hostport.split(',')).toEqual(expect.arrayContaining([`udp/${sip}`, `tcp/${sip}`]));
  // srf sends its route commands right after the authenticate OK; let them land.
  await new Promise((r) => setTimeout(r, 100));
});

afterEach(async () => {
  await stopAll();
  for (const m of METHODS) delete handlers[m];
});

afterAll(async () => {
  await stopAll();
  srf?.disconnect();
  await server?.stop();
  if (process.env.KNUDE_KEEP_TEST_DATA) console.log(`embedded server log: ${join(dir, 'server.log')}`);
  else if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('drachtio-srf on the embedded SIP server', () => {
  it('Srf.parseUri parses a SIP URI with parameters', () => {
    const u = Srf.parseUri('sip:alice@example.com;transport=tcp');
    expect(u).toMatchObject({ scheme: 'sip', user: 'alice', host: 'example.com', params: { transport: 'tcp' } });
  });

  describe('request handlers', () => {
    it('srf.options answers a SIPp OPTIONS', async () => {
      const seen: string[] = [];
      handlers.options = (req, res) => {
        seen.push(req.method);
        res.send(200, { headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS' } });
      };
      expectOk(await runSipp({ scenario: 'options.xml', target: sip, service: 'prober', timeoutMs: 10_000 }));
      expect(seen).toEqual(['OPTIONS']);
    });

    it('srf.register challenges a SIPp REGISTER and accepts its digest', async () => {
      const realm = 'compat.test';
      const nonce = randomBytes(8).toString('hex');
      const seen: Array<{ auth: boolean; expires: string }> = [];
      handlers.register = (req, res) => {
        const auth = req.get('Authorization');
        seen.push({ auth: !!auth, expires: req.get('Expires') });
        if (!auth) {
          res.send(401, { headers: { 'WWW-Authenticate': `Digest realm="${realm}", nonce="${nonce}", algorithm=MD5, qop="auth"` } });
          return;
        }
        const p = Object.fromEntries([...auth.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((m) => [m[1], m[2] ?? m[3]]));
        const ha1 = md5(`${p.username}:${realm}:carol-pw`);
        const ha2 = md5(`REGISTER:${p.uri}`);
        const ok = p.response === md5(`${ha1}:${nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
        if (!ok) {
          res.send(403);
          return;
        }
        res.send(200, { headers: { Contact: `${req.get('Contact')};expires=300` } });
      };
      expectOk(
        await runSipp({
          scenario: 'register-auth.xml',
          target: sip,
          service: 'carol',
          auth: { user: 'carol', password: 'carol-pw' },
          keys: { expires: 300 },
          timeoutMs: 10_000,
        }),
      );
      expect(seen).toEqual([
        { auth: false, expires: '300' },
        { auth: true, expires: '300' },
      ]);
    });

    it('srf.message, srf.info and srf.subscribe receive out-of-dialog requests and their answers go back', async () => {
      const seen: Array<{ method: string; body: string; type: string }> = [];
      const record: Handler = (req) => seen.push({ method: req.method, body: req.body, type: req.get('Content-Type') ?? '' });
      handlers.message = (req, res) => {
        record(req, res);
        res.send(202, 'Accepted', {});
      };
      handlers.info = (req, res) => {
        record(req, res);
        res.send(200, { headers: { 'X-Seen': 'info' } });
      };
      handlers.subscribe = (req, res) => {
        record(req, res);
        res.send(202, { headers: { Expires: '60' } });
      };
      const port = await freePort('udp');
      const message = await sendRaw(sip, 'udp', [rawRequest('MESSAGE', port, ['Content-Type: text/plain'], 'hello srf')], {
        localPort: port,
        expectReplies: 1,
        waitMs: 3000,
      });
      const info = await sendRaw(
        sip,
        'udp',
        [rawRequest('INFO', port, ['Content-Type: application/dtmf-relay'], 'Signal=7\r\nDuration=160\r\n')],
        { localPort: port, expectReplies: 1, waitMs: 3000 },
      );
      const subscribe = await sendRaw(sip, 'udp', [rawRequest('SUBSCRIBE', port, ['Event: presence', 'Expires: 60', 'Accept: application/pidf+xml'])], {
        localPort: port,
        expectReplies: 1,
        waitMs: 3000,
      });
      expect(message.messages.map(statusOf)).toEqual([202]);
      expect(message.messages[0]).toMatch(/^SIP\/2\.0 202 Accepted\r\n/);
      expect(message.messages[0]).toMatch(/\r\nTo: [^\r\n]*;tag=/i);
      expect(info.messages.map(statusOf)).toEqual([200]);
      expect(info.messages[0]).toMatch(/\r\nX-Seen: info\r\n/i);
      expect(subscribe.messages.map(statusOf)).toEqual([202]);
      // a 2xx to SUBSCRIBE gets the server's default Contact (docs/drachtio-protocol.md 6.2)
      expect(subscribe.messages[0]).toMatch(new RegExp(`\\r\\nContact: <sip:${sip.replace(/\./g, '\\.')}>`, 'i'));
      expect(subscribe.messages[0]).toMatch(/\r\nExpires: 60\r\n/i);
      expect(seen).toEqual([
        { method: 'MESSAGE', body: 'hello srf', type: 'text/plain' },
        { method: 'INFO', body: 'Signal=7\r\nDuration=160\r\n', type: 'application/dtmf-relay' },
        { method: 'SUBSCRIBE', body: '', type: '' },
      ]);
    });
  });

  it.each(['udp', 'tcp'] as const)('createUAS answers a SIPp call (%s); re-INVITE (hold), INFO and UPDATE from the network reach the Dialog', async (transport) => {
    const events: string[] = [];
    const destroyed = deferred<string>();
    const failed = deferred<never>();
    handlers.invite = (req, res) => {
      srf
        .createUAS(req, res, { localSdp: sdp(1, 'sendrecv') })
        .then((dialog) => {
          // Dialog.id is the server's <D>: <Call-ID>;from-tag=<caller's tag> (docs 0.1 item 5)
          const id = (dialog as Srf.Dialog & { id: string }).id;
          events.push(`uas ${dialog.type} ${id === `${req.get('Call-ID')};from-tag=${dialog.sip.remoteTag}`}`);
          dialog.on('ack', () => events.push('ack'));
          dialog.on('modify', (r: Req, s: Res) => {
            events.push(`modify ${/a=sendonly/.test(r.body) ? 'sendonly' : 'other'}`);
            s.send(200, { body: sdp(2, 'recvonly') });
          });
          dialog.on('info', (r: Req, s: Res) => {
            events.push(`info ${r.get('Content-Type')} ${/Signal=5/.test(r.body)}`);
            s.send(200);
          });
          dialog.on('update', (r: Req, s: Res) => {
            events.push(`update ${/a=sendrecv/.test(r.body) ? 'sendrecv' : 'other'}`);
            s.send(200, { body: sdp(3, 'sendrecv') });
          });
          // srf emits destroy(bye, reason); its typings know only the first argument
          (dialog as unknown as EventEmitter).on('destroy', (_bye: Req, reason: string) => destroyed.resolve(reason));
        })
        .catch((err: unknown) => failed.reject(err));
    };
    expectOk(await runSipp({ scenario: 'uac-reinvite.xml', target: sip, transport, service: 'bob', keys: { pause_ms: 200 }, timeoutMs: 20_000 }));
    // SIPp got the 200 to its BYE, so the Dialog has seen the BYE
    expect(await within(Promise.race([destroyed.promise, failed.promise]), 1000, 'the destroy event')).toBe('normal release');
    expect(events).toEqual([
      'uas uas true',
      'ack', // the ACK to the initial 200
      'modify sendonly',
      'ack', // the ACK to the re-INVITE's 200
      'info application/dtmf-relay true',
      'update sendrecv',
    ]);
  });

  it.each(['udp', 'tcp'] as const)('createUAC to a SIPp UAS (%s); modify, INFO and destroy from the app arrive right', async (transport) => {
    const uas = await startSippServer({ scenario: 'uas-reinvite.xml', transport, service: 'bob', count: 1, timeoutMs: 30_000 });
    const param = transport === 'tcp' ? ';transport=tcp' : '';
    const dialog = await within(srf.createUAC(`sip:bob@${uas.address}${param}`, { localSdp: sdp(1, 'sendrecv') }), 10_000, 'the 200');
    expect(dialog.type).toBe('uac');
    // a UAC dialog's id carries our own From tag (docs/drachtio-protocol.md 0.1 item 5)
    expect((dialog as Srf.Dialog & { id: string }).id).toBe(`${dialog.sip.callId};from-tag=${dialog.sip.localTag}`);
    expect(dialog.remote.uri).toBe(`sip:bob@${uas.address};transport=${transport.toUpperCase()}`);
    expect(dialog.remote.sdp).toMatch(/m=audio \d+ RTP\/AVP/);
    const answer = await within(dialog.modify(sdp(2, 'sendrecv', 40002)), 10_000, 'the re-INVITE 200');
    expect(answer).toMatch(/o=knude-sipp-uas \d+ 2353687638 /);
    const info = await within(
      dialog.request({
        method: 'INFO',
        headers: { 'Content-Type': 'application/dtmf-relay' },
        body: 'Signal=1\r\nDuration=160\r\n',
      } as unknown as Srf.SrfRequest),
      10_000,
      'the INFO 200',
    );
    expect(info.status).toBe(200);
    await within(Promise.resolve(dialog.destroy()), 10_000, 'the BYE 200');
    expectOk(await uas.done);
  });

  describe('createB2BUA', () => {
    it('bridges a SIPp caller to a SIPp callee; the caller hangs up', async () => {
      const uas = await startSippServer({ scenario: 'uas-answer.xml', service: 'bob', count: 1, timeoutMs: 30_000 });
      const bridged = deferred<{ uas: Srf.Dialog; uac: Srf.Dialog }>();
      const ended = deferred<string>();
      handlers.invite = (req, res) => {
        srf
          .createB2BUA(req, res, `sip:bob@${uas.address}`, { localSdpB: req.body })
          .then(({ uas: a, uac: b }) => {
            bridged.resolve({ uas: a, uac: b });
            a.on('destroy', () => {
              ended.resolve('A');
              void b.destroy();
            });
            b.on('destroy', () => {
              ended.resolve('B');
              void a.destroy();
            });
          })
          .catch((err: unknown) => bridged.reject(err));
      };
      const caller = await runSipp({ scenario: 'uac-call.xml', target: sip, service: 'bob', keys: { hold_ms: 500 }, timeoutMs: 20_000 });
      expectOk(caller);
      const legs = await within(bridged.promise, 1000, 'the B2BUA');
      expect(legs.uas.type).toBe('uas');
      expect(legs.uac.type).toBe('uac');
      expect(await within(ended.promise, 1000, 'the A-leg BYE')).toBe('A');
      expectOk(await uas.done);
    });

    it('bridges a SIPp caller to a SIPp callee; the callee hangs up', async () => {
      const uas = await startSippServer({ scenario: 'uas-bye.xml', service: 'bob', count: 1, keys: { hold_ms: 500 }, timeoutMs: 30_000 });
      const ended = deferred<string>();
      handlers.invite = (req, res) => {
        srf
          .createB2BUA(req, res, `sip:bob@${uas.address}`, { localSdpB: req.body })
          .then(({ uas: a, uac: b }) => {
            a.on('destroy', () => {
              ended.resolve('A');
              void b.destroy();
            });
            b.on('destroy', () => {
              ended.resolve('B');
              void a.destroy();
            });
          })
          .catch((err: unknown) => ended.reject(err));
      };
      const caller = await runSipp({ scenario: 'uac-recv-bye.xml', target: sip, service: 'bob', timeoutMs: 20_000 });
      expectOk(caller);
      expect(await within(ended.promise, 1000, 'the B-leg BYE')).toBe('B');
      expectOk(await uas.done);
    });
  });

  describe('proxyRequest', () => {
    it('record-routes a SIPp call to a SIPp UAS; the BYE goes through the proxy', async () => {
      const traceDir = join(dir, 'proxy-rr');
      const uas = await startSippServer({ scenario: 'uas-answer.xml', service: 'bob', count: 1, timeoutMs: 30_000, traceDir });
      const result = deferred<ProxyResult>();
      handlers.invite = (req) => {
        (srf as unknown as SrfLoose).proxyRequest(req, [`sip:${uas.address}`], { recordRoute: true }).then(result.resolve, result.reject);
      };
      const caller = await runSipp({ scenario: 'uac-call.xml', target: sip, service: 'bob', keys: { hold_ms: 300 }, timeoutMs: 20_000 });
      expectOk(caller);
      expectOk(await uas.done);
      const r = await within(result.promise, 1000, 'the proxy result');
      expect(r.connected).toBe(true);
      expect(r.finalStatus).toBe(200);
      expect(r.finalResponse.msg.get('Record-Route')).toMatch(new RegExp(`<sip:${sip.replace(/\./g, '\\.')};lr>`));
      expect(r.responses.map((x) => [x.address, x.port])).toEqual([[HOST, uas.port]]);
      // What the UAS got: an INVITE record-routed by the server, then the BYE forwarded by it.
      const got = receivedRequests(join(traceDir, 'uas-answer.messages.log'));
      expect(got.map((m) => m.split(' ')[0])).toEqual(['INVITE', 'ACK', 'BYE']);
      const serverVia = new RegExp(`^Via: SIP/2\\.0/UDP ${sip.replace(/\./g, '\\.')};`, 'm');
      for (const m of got) {
        expect(m).toMatch(serverVia); // top Via: the proxy's
        expect(m.match(/^Via:/gm)).toHaveLength(2); // and SIPp's below it
      }
      expect(got[0]).toMatch(new RegExp(`^Record-Route: <sip:${sip.replace(/\./g, '\\.')};lr>`, 'm'));
      expect(got[2]).not.toMatch(/^Route:/m); // the proxy consumed its own Route entry
    });

    it('tries two destinations serially: 503 from the first, 200 from the second', async () => {
      const busy = await startSippServer({ scenario: 'uas-reject.xml', service: 'carol', count: 1, keys: { reject_status: 503 }, timeoutMs: 30_000 });
      const uas = await startSippServer({ scenario: 'uas-answer.xml', service: 'bob', count: 1, timeoutMs: 30_000 });
      const result = deferred<ProxyResult>();
      handlers.invite = (req) => {
        (srf as unknown as SrfLoose)
          .proxyRequest(req, [`sip:${busy.address}`, `sip:${uas.address}`], { recordRoute: true, forking: 'sequential' })
          .then(result.resolve, result.reject);
      };
      const caller = await runSipp({ scenario: 'uac-call.xml', target: sip, service: 'bob', keys: { hold_ms: 300 }, timeoutMs: 20_000 });
      expectOk(caller);
      expectOk(await busy.done);
      expectOk(await uas.done);
      const r = await within(result.promise, 1000, 'the proxy result');
      expect(r.connected).toBe(true);
      expect(r.finalStatus).toBe(200);
      expect(r.responses.flatMap((x) => x.msgs.map((m) => m.status))).toEqual([503, 200]);
      // srf groups the responses by source (request.js:proxy; its test is quirky: a new group
      // starts on another address or on the *same* port), so both land in the first target's group.
      expect(r.responses.map((x) => [x.address, x.port])).toEqual([[HOST, busy.port]]);
    });
  });

  describe('CANCEL of a createUAC before the answer: the UAS sees the CANCEL, the promise rejects with 487', () => {
    // 'at once' cancels from cbRequest, as soon as srf has the echo of the INVITE: the 180 may
    // or may not be in yet (if not, the server holds the CANCEL until it is, RFC 3261 9.1);
    // 'on the 180' cancels from cbProvisional.
    it.each(['at once', 'on the 180'] as const)('%s', async (when) => {
      const uas = await startSippServer({ scenario: 'uas-ring-no-answer.xml', service: 'bob', count: 1, timeoutMs: 30_000 });
      let sent: Req | undefined;
      let requestError: Error | null = null;
      const cancelled = deferred<{ err: unknown; method: string | undefined }>();
      const cancel = (req: Req | undefined) =>
        req?.cancel((err: unknown, cancelReq?: Req) => cancelled.resolve({ err, method: cancelReq?.method }));
      const call = (srf as unknown as SrfLoose).createUAC(
        `sip:bob@${uas.address}`,
        { localSdp: sdp(1, 'sendrecv') },
        {
          // node-style: (err, req)
          cbRequest: (err, req) => {
            requestError = err;
            sent = req;
            if (when === 'at once') cancel(req);
          },
          cbProvisional: (res) => {
            if (when === 'on the 180' && res.status === 180) cancel(sent);
          },
        },
      );
      const err = await within(
        call.then(
          () => undefined,
          (e: unknown) => e as SipError,
        ),
        10_000,
        'the 487',
      );
      expect(requestError).toBeNull();
      expect(sent?.method).toBe('INVITE');
      expect(err?.status).toBe(487);
      // the server echoes the CANCEL it sent (docs/drachtio-protocol.md 7.3), no NOK
      expect(await within(cancelled.promise, 1000, 'the CANCEL echo')).toEqual({ err: null, method: 'CANCEL' });
      expectOk(await uas.done);
    });
  });
});
