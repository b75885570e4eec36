/**
 * The transports SIPp cannot drive here (this SIPp build has no TLS, and no WebSocket at all):
 * a REGISTER with digest auth over TLS, WS and WSS from real Node clients, RFC 5626
 * keep-alives on TCP, bindings surviving a restart, and a ring timeout.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { computeDigestResponse, computeHa1 } from '../../src/registrar/digest.js';
import { parseAuthParams, parseMessage, type SipResponse } from '../../src/sip/message/index.js';
import { freePort } from '../helpers/ports.js';
import { describeSippResult, runSipp, startSippServer, stopAll } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

let k: TestNode;

/** A REGISTER as a browser SIP client (SIP.js/JsSIP) or a TLS endpoint would send it. */
function register(transport: string, via: string, contact: string, callId: string, cseq: number, auth?: string): string {
  const lines = [
    `REGISTER sip:${k.config.sip.domain} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${via};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    `To: <sip:dave@${k.config.sip.domain}>`,
    `From: <sip:dave@${k.config.sip.domain}>;tag=${callId.slice(0, 8)}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: ${contact};+sip.instance="<urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301>";reg-id=1`,
    'Expires: 600',
    ...(auth ? [`Authorization: ${auth}`] : []),
    'Content-Length: 0',
    '',
    '',
  ];
  return lines.join('\r\n');
}

function authorization(challenge: SipResponse): string {
  const www = challenge.headers.getAll('WWW-Authenticate').find((v) => /algorithm=SHA-256/.test(v))!;
  const p = parseAuthParams(www).params;
  const uri = `sip:${k.config.sip.domain}`;
  const response = computeDigestResponse({
    algorithm: 'SHA-256',
    ha1: computeHa1('SHA-256', 'dave', p.get('realm')!, 'dave-pw'),
    method: 'REGISTER',
    uri,
    nonce: p.get('nonce')!,
    qop: 'auth',
    nc: '00000001',
    cnonce: 'abcdef01',
  });
  return `Digest username="dave", realm="${p.get('realm')}", nonce="${p.get('nonce')}", uri="${uri}", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="abcdef01"`;
}

/** Sends a message on a stream and reads one framed response. */
function exchange(socket: net.Socket, text: string): Promise<SipResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = Number(/content-length:\s*(\d+)/i.exec(buf.toString('latin1', 0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + cl) return;
      socket.off('data', onData);
      resolve(parseMessage(buf.subarray(0, end + 4 + cl)) as SipResponse);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(text);
  });
}

async function registerOverStream(socket: net.Socket, transport: string): Promise<SipResponse> {
  const callId = randomBytes(8).toString('hex');
  const contact = `<sip:dave@${randomBytes(4).toString('hex')}.invalid;transport=${transport.toLowerCase()}>`;
  const first = await exchange(socket, register(transport, 'client.invalid', contact, callId, 1));
  expect(first.status).toBe(401);
  return exchange(socket, register(transport, 'client.invalid', contact, callId, 2, authorization(first)));
}

beforeAll(async () => {
  k = await startKnude({ overrides: { calls: { ringTimeoutSeconds: 2 } } });
  k.addAccount('region-a', 'dave', 'dave-pw');
  k.addAccount('region-a', 'alice', 'alice-pw');
  k.addAccount('region-a', 'bob', 'bob-pw');
});

afterAll(async () => {
  await stopAll();
  await k?.stop();
});

describe('TLS and WebSocket transports', () => {
  it('registers over TLS (SHA-256 digest) and refuses TLS 1.1', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: k.ports.tls, rejectUnauthorized: false });
    await new Promise((r) => socket.once('secureConnect', r));
    expect(socket.getProtocol()).toMatch(/TLSv1\.[23]/);
    const ok = await registerOverStream(socket, 'TLS');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('Contact')).toMatch(/;expires=\d+/);
    socket.destroy();

    const old = tls.connect({ host: '127.0.0.1', port: k.ports.tls, rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    const outcome = await new Promise<string>((r) => {
      old.once('secureConnect', () => r('connected'));
      old.once('error', (e) => r(e.message));
    });
    old.destroy();
    expect(outcome).not.toBe('connected');
  });

  for (const scheme of ['ws', 'wss'] as const) {
    it(`registers a browser-style client over ${scheme.toUpperCase()} (RFC 7118)`, async () => {
      const port = scheme === 'ws' ? k.ports.ws : k.ports.wss;
      const ws = new WebSocket(`${scheme}://127.0.0.1:${port}`, 'sip', { rejectUnauthorized: false });
      await new Promise((r, j) => {
        ws.once('open', r);
        ws.once('error', j);
      });
      expect(ws.protocol).toBe('sip');
      const next = () => new Promise<SipResponse>((r) => ws.once('message', (d) => r(parseMessage(Buffer.from(d as Buffer)) as SipResponse)));
      const callId = randomBytes(8).toString('hex');
      const contact = '<sip:dave@df7jal23ls0d.invalid;transport=ws>';
      const via = `SIP/2.0/${scheme.toUpperCase()}`.slice(8);
      let p = next();
      ws.send(register(via, 'df7jal23ls0d.invalid', contact, callId, 1));
      const first = await p;
      expect(first.status).toBe(401);
      p = next();
      ws.send(register(via, 'df7jal23ls0d.invalid', contact, callId, 2, authorization(first)));
      const ok = await p;
      expect(ok.status).toBe(200);
      const live = k.node.bindings.lookup(`sip:dave@${k.config.sip.domain}`, Date.now());
      expect(live.some((b) => b.contactUri.includes('.invalid') && b.receivedFrom.transport === scheme)).toBe(true);

      // A call to the browser reaches it over its WebSocket flow; it answers busy.
      ws.on('message', (d) => {
        const m = parseMessage(Buffer.from(d as Buffer));
        if (m.kind !== 'request' || m.method !== 'INVITE') return;
        const h = m.headers;
        const reply = [
          'SIP/2.0 486 Busy Here',
          ...h.getAll('Via').map((v) => `Via: ${v}`),
          `From: ${h.get('From')}`,
          `To: ${h.get('To')};tag=browser1`,
          `Call-ID: ${h.get('Call-ID')}`,
          `CSeq: ${h.get('CSeq')}`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        ws.send(reply);
      });
      const call = await runSipp({
        scenario: 'uac-expect-status.xml',
        target: k.sip,
        service: 'dave',
        auth: { user: 'alice', password: 'alice-pw' },
        authUri: `dave@${k.sip}`,
        keys: { from_user: 'alice', expect_status: 486 },
        timeoutMs: 15_000,
      });
      expect(call.ok, describeSippResult(call)).toBe(true);
      ws.close();
      k.node.bindings.removeAll(`sip:dave@${k.config.sip.domain}`);
    });
  }

  it('answers an RFC 5626 CRLFCRLF ping with a CRLF pong on TCP', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: k.ports.sip });
    await new Promise((r) => socket.once('connect', r));
    const pong = new Promise<string>((r) => socket.once('data', (d) => r(d.toString('latin1'))));
    socket.write('\r\n\r\n');
    expect(await pong).toBe('\r\n');
    socket.destroy();
  });
});

describe('state across restarts and timeouts', () => {
  it('keeps registrations across a restart of the node', async () => {
    const port = await freePort('both');
    const r = await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: port, service: 'bob', auth: { user: 'bob', password: 'bob-pw' }, keys: { expires: 300 }, timeoutMs: 10_000 });
    expect(r.ok, describeSippResult(r)).toBe(true);
    const { dataDir, ports } = k;
    await k.stop({ keepData: true });
    k = await startKnude({ dataDir, ports, overrides: { calls: { ringTimeoutSeconds: 2 } } });
    const bob = await startSippServer({ scenario: 'uas-answer.xml', localPort: port, service: 'bob', count: 1, timeoutMs: 20_000 });
    const call = await runSipp({
      scenario: 'uac-call.xml',
      target: k.sip,
      service: 'bob',
      auth: { user: 'alice', password: 'alice-pw' },
      authUri: `bob@${k.sip}`,
      keys: { from_user: 'alice', hold_ms: 200 },
      timeoutMs: 20_000,
    });
    expect(call.ok, describeSippResult(call)).toBe(true);
    expect((await bob.done).ok).toBe(true);
  });

  it('gives up ringing after the ring timeout: the callee is cancelled, the caller gets 480', async () => {
    const port = await freePort('both');
    k.node.bindings.removeAll(`sip:bob@${k.config.sip.domain}`);
    const reg = await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: port, service: 'bob', auth: { user: 'bob', password: 'bob-pw' }, keys: { expires: 300 }, timeoutMs: 10_000 });
    expect(reg.ok, describeSippResult(reg)).toBe(true);
    const bob = await startSippServer({ scenario: 'uas-ring-no-answer.xml', localPort: port, service: 'bob', count: 1, timeoutMs: 20_000 });
    const call = await runSipp({
      scenario: 'uac-expect-status.xml',
      target: k.sip,
      service: 'bob',
      auth: { user: 'alice', password: 'alice-pw' },
      authUri: `bob@${k.sip}`,
      keys: { from_user: 'alice', expect_status: 480 },
      timeoutMs: 20_000,
    });
    expect(call.ok, describeSippResult(call)).toBe(true);
    expect((await bob.done).ok).toBe(true);
  });
});
