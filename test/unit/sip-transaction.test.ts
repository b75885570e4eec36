/**
 * The transaction layer against RFC 3261 section 17 (with RFC 6026's Accepted states), driven
 * by vitest's fake timers and a fake host that records every send (destination + the parsed
 * message, at the fake clock's time) and every callback. Defaults: T1 500 ms, T2 4 s, T4 5 s.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createRequest,
  createResponse,
  parseMessage,
  parseVia,
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/message/index.js';
import type { ClientTransaction } from '../../src/sip/transaction/client.js';
import { responseTo, TransactionLayer, type TransactionLayerHost } from '../../src/sip/transaction/layer.js';
import { responseDestination } from '../../src/sip/transaction/route.js';
import type { ServerTransaction } from '../../src/sip/transaction/server.js';
import { TransportError, type Destination, type Protocol, type Source } from '../../src/sip/transport/types.js';

const T1 = 500;
const T2 = 4000;
const T4 = 5000;

// ---------------------------------------------------------------------------------------------
// Fixtures

interface Sent {
  at: number;
  dest: Destination;
  msg: SipMessage;
}

type HostEvent =
  | { kind: 'request'; req: SipRequest; source: Source; tx: ServerTransaction | undefined }
  | { kind: 'cancel'; invite: ServerTransaction; cancel: SipRequest; source: Source }
  | { kind: 'stray'; res: SipResponse; source: Source }
  | { kind: 'ackTimeout'; tx: ServerTransaction };

/** The fake transport + TU. `failSends` makes every later send reject like a dead TCP peer. */
function harness() {
  const sent: Sent[] = [];
  const events: HostEvent[] = [];
  const state = { failSends: false, flows: 0 };
  const host: TransactionLayerHost = {
    send(dest, data) {
      sent.push({ at: Date.now(), dest, msg: parseMessage(data) });
      if (state.failSends) return Promise.reject(new TransportError('connection refused', 'connect-failed'));
      const flowId = dest.flowId ?? `${dest.protocol}-flow-${++state.flows}`;
      return Promise.resolve({ protocol: dest.protocol, remote: { address: dest.address, port: dest.port }, local: LOCAL, flowId });
    },
    onRequest: (req, source, tx) => events.push({ kind: 'request', req, source, tx }),
    onCancel: (invite, cancel, source) => events.push({ kind: 'cancel', invite, cancel, source }),
    onStrayResponse: (res, source) => events.push({ kind: 'stray', res, source }),
    onAckTimeout: (tx) => events.push({ kind: 'ackTimeout', tx }),
  };
  const layer = new TransactionLayer(host);
  const of = <K extends HostEvent['kind']>(kind: K) => events.filter((e): e is Extract<HostEvent, { kind: K }> => e.kind === kind);
  return { layer, sent, events, state, of };
}

/** A client transaction's user that records every callback. */
function recorder() {
  const responses: Array<{ at: number; res: SipResponse; source: Source | undefined }> = [];
  const timeouts: number[] = [];
  return {
    responses,
    timeouts,
    statuses: () => responses.map((r) => r.res.status),
    user: {
      onResponse: (res: SipResponse, _tx: ClientTransaction, source: Source | undefined) => responses.push({ at: Date.now(), res, source }),
      onTimeout: () => timeouts.push(Date.now()),
    },
  };
}

const LOCAL = { address: '192.0.2.1', port: 5060 };
const PEER = { address: '192.0.2.10', port: 5070 };
const NEXT_HOP: Destination = { protocol: 'udp', address: '198.51.100.20', port: 5060 };

function source(protocol: Protocol = 'udp', remote = PEER, flowId = `${protocol}-in-1`): Source {
  return { protocol, remote, local: LOCAL, flowId };
}

/** Through the wire and back, so every message is what the transport would hand over. */
function wire<T extends SipMessage>(m: T): T {
  return parseMessage(serializeMessage(m)) as T;
}

interface RequestOpts {
  branch?: string | null;
  sentBy?: string;
  transport?: string;
  rport?: boolean;
  /** Vias below the top one (a request that came through proxies). */
  lowerVias?: string[];
  cseq?: number;
  cseqMethod?: string;
  toTag?: string;
  callId?: string;
  uri?: string;
  route?: string[];
  extra?: Array<[string, string]>;
  body?: string;
}

function request(method: string, o: RequestOpts = {}): SipRequest {
  const branch = o.branch === null ? '' : `;branch=${o.branch ?? 'z9hG4bK-c1'}`;
  const headers: Array<[string, string]> = [
    ['Via', `SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? '192.0.2.10:5070'}${branch}${o.rport ? ';rport' : ''}`],
    ...(o.lowerVias ?? []).map((v): [string, string] => ['Via', v]),
    ['Max-Forwards', '70'],
    ...(o.route ?? []).map((r): [string, string] => ['Route', r]),
    ['From', '"Alice" <sip:alice@example.com>;tag=a1'],
    ['To', `<sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ''}`],
    ['Call-ID', o.callId ?? 'call-1@192.0.2.10'],
    ['CSeq', `${o.cseq ?? 1} ${o.cseqMethod ?? method}`],
    ['Contact', '<sip:alice@192.0.2.10:5070>'],
    ...(o.extra ?? []),
  ];
  if (o.body) headers.push(['Content-Type', 'application/sdp']);
  return wire(createRequest(method, o.uri ?? 'sip:bob@example.com', headers, o.body));
}

/** A response to `req` as its UAS would send it (Vias, From, To + tag, Call-ID, CSeq copied). */
function answer(req: SipRequest, status: number, toTag?: string, cseqMethod?: string): SipResponse {
  const h = req.headers;
  const to = toTag ? `${h.get('To')!};tag=${toTag}` : h.get('To')!;
  const cseq = cseqMethod ? `${h.get('CSeq')!.split(' ')[0]} ${cseqMethod}` : h.get('CSeq')!;
  return wire(
    createResponse(status, undefined, [
      ...h.getAll('Via').map((v): [string, string] => ['Via', v]),
      ['From', h.get('From')!],
      ['To', to],
      ['Call-ID', h.get('Call-ID')!],
      ['CSeq', cseq],
    ]),
  );
}

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const requests = (s: Sent[], method?: string) => s.map((x) => x.msg).filter((m): m is SipRequest => m.kind === 'request' && (!method || m.method === method));
const responses = (s: Sent[]) => s.map((x) => x.msg).filter((m): m is SipResponse => m.kind === 'response');
const toTag = (m: SipMessage) => /;\s*tag=([^;\s]+)/i.exec(m.headers.get('To') ?? '')?.[1];

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});

afterEach(() => {
  vi.useRealTimers();
});

// ---------------------------------------------------------------------------------------------

describe('INVITE client transaction (RFC 3261 17.1.1, RFC 6026)', () => {
  it('17.1.1.2: over UDP Timer A retransmits at T1, 2T1, 4T1... and stops on a provisional; no Timer B in Proceeding', async () => {
    const h = harness();
    const u = recorder();
    const invite = request('INVITE', { body: 'v=0\r\n' });
    const tx = h.layer.request(invite, NEXT_HOP, u.user);
    expect(tx.state).toBe('calling');
    await tick(3500 + 100);
    expect(h.sent.map((s) => s.at)).toEqual([0, T1, 3 * T1, 7 * T1]);
    // Each retransmission is the same request (same branch, same body) on the flow the first one used.
    for (const s of h.sent) expect(serializeMessage(s.msg).equals(serializeMessage(h.sent[0].msg))).toBe(true);
    expect(h.sent[0].dest).toEqual(NEXT_HOP);
    expect(h.sent[1].dest).toEqual({ ...NEXT_HOP, flowId: 'udp-flow-1' });

    h.layer.receiveResponse(answer(invite, 180, 'b1'), source('udp', { address: NEXT_HOP.address, port: 5060 }));
    expect(tx.state).toBe('proceeding');
    expect(u.statuses()).toEqual([180]);
    await tick(120_000);
    expect(h.sent).toHaveLength(4); // Timer A stopped at the provisional
    expect(tx.state).toBe('proceeding'); // Timer B only runs in Calling: the TU (Timer C) ends a ringing INVITE
    expect(u.timeouts).toEqual([]);
    tx.terminate();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('17.1.1.2: Timer B (64*T1) ends Calling with one synthetic 408 to the user and terminates', async () => {
    const h = harness();
    const u = recorder();
    const invite = request('INVITE', {
      lowerVias: ['SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-upstream'],
      route: ['<sip:edge.example.com;lr>'],
      extra: [['Proxy-Authorization', 'Digest username="alice", response="secret"']],
      body: 'v=0\r\n',
    });
    const tx = h.layer.request(invite, NEXT_HOP, u.user);
    await tick(64 * T1 - 1);
    expect(u.responses).toEqual([]);
    // 7 transmissions: 0, T1, 3T1, 7T1, 15T1, 31T1, 63T1
    expect(h.sent.map((s) => s.at)).toEqual([0, 1, 3, 7, 15, 31, 63].map((k) => k * T1));
    await tick(1);
    expect(u.statuses()).toEqual([408]);
    expect(u.timeouts).toEqual([64 * T1]);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.client).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    // The synthetic 408 looks like a response to the INVITE (8.2.6.2), carries no body and none
    // of the request-only headers (Route, Contact, Max-Forwards, credentials).
    const res = u.responses[0].res;
    expect(u.responses[0].source).toBeUndefined();
    expect(res.headers.getAll('Via')).toEqual(invite.headers.getAll('Via'));
    for (const n of ['From', 'To', 'Call-ID', 'CSeq']) expect(res.headers.get(n)).toBe(invite.headers.get(n));
    for (const n of ['Route', 'Contact', 'Max-Forwards', 'Proxy-Authorization', 'Content-Type']) expect(res.headers.has(n), n).toBe(false);
    expect(res.body.length).toBe(0);
    expect(res.headers.get('Reason')).toMatch(/^SIP;cause=408/);
    expect(parseMessage(serializeMessage(res)).kind).toBe('response');

    await tick(60_000);
    expect(h.sent).toHaveLength(7);
    expect(u.responses).toHaveLength(1);
  });

  it('17.1.1.2: over TCP the INVITE is sent once (no Timer A) and Timer B still gives 408', async () => {
    const h = harness();
    const u = recorder();
    h.layer.request(request('INVITE', { transport: 'TCP' }), { ...NEXT_HOP, protocol: 'tcp' }, u.user);
    await tick(64 * T1 - 1);
    expect(h.sent).toHaveLength(1);
    expect(u.responses).toEqual([]);
    await tick(1);
    expect(u.statuses()).toEqual([408]);
    expect(h.sent).toHaveLength(1);
  });

  it('RFC 6026 7.2 (17.1.1.2): a 2xx moves to Accepted; 2xx retransmissions and forked 2xx reach the user until Timer M', async () => {
    const h = harness();
    const u = recorder();
    const invite = request('INVITE');
    const tx = h.layer.request(invite, NEXT_HOP, u.user);
    const from = source('udp', { address: NEXT_HOP.address, port: 5060 });
    await tick(100);
    h.layer.receiveResponse(answer(invite, 180, 'b1'), from);
    await tick(100);
    h.layer.receiveResponse(answer(invite, 200, 'b1'), from);
    expect(tx.state).toBe('accepted');
    await tick(T1);
    h.layer.receiveResponse(answer(invite, 200, 'b1'), from); // retransmission
    h.layer.receiveResponse(answer(invite, 200, 'b2'), from); // another fork answered
    h.layer.receiveResponse(answer(invite, 486, 'b3'), from); // not a 2xx: nothing for the TU in Accepted
    h.layer.receiveResponse(answer(invite, 183, 'b3'), from);
    expect(u.statuses()).toEqual([180, 200, 200, 200]);
    expect(u.responses.slice(1).map((r) => toTag(r.res))).toEqual(['b1', 'b1', 'b2']);
    expect(u.responses[1].source).toEqual(from);
    // The ACK for a 2xx is the dialog's (13.2.2.4): the transaction sends nothing but the INVITE.
    await tick(10_000);
    expect(requests(h.sent).map((r) => r.method)).toEqual(['INVITE']);
    expect(h.of('stray')).toEqual([]);

    // Timer M: 64*T1 after the first 2xx.
    await tick(64 * T1 - 10_000 - T1 - 1);
    expect(tx.state).toBe('accepted');
    await tick(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.client).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    h.layer.receiveResponse(answer(invite, 200, 'b1'), from);
    expect(u.responses).toHaveLength(4);
    expect(h.of('stray').map((e) => e.res.status)).toEqual([200]);
  });

  it('17.1.1.3: a 3xx-6xx gets an ACK (same branch, To with the tag, CSeq number + ACK, Route copied), once per retransmission, and Timer D is 32 s over UDP', async () => {
    const h = harness();
    const u = recorder();
    const invite = request('INVITE', {
      cseq: 4711,
      uri: 'sip:bob@198.51.100.20;transport=udp',
      lowerVias: ['SIP/2.0/TCP 203.0.113.5:5060;branch=z9hG4bK-upstream;received=203.0.113.5'],
      route: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'],
      extra: [['Proxy-Authorization', 'Digest username="alice"']],
      body: 'v=0\r\n',
    });
    const tx = h.layer.request(invite, NEXT_HOP, u.user);
    const from = source('udp', { address: NEXT_HOP.address, port: 5060 });
    await tick(T1 + 10);
    expect(h.sent).toHaveLength(2);
    const busy = answer(invite, 486, 'b1');
    h.layer.receiveResponse(busy, from);
    expect(tx.state).toBe('completed');
    expect(u.statuses()).toEqual([486]);

    const acks = () => h.sent.filter((s) => s.msg.kind === 'request' && s.msg.method === 'ACK');
    expect(acks()).toHaveLength(1);
    const ack = acks()[0].msg as SipRequest;
    expect(ack.uri).toBe(invite.uri);
    expect(ack.headers.getAll('Via')).toEqual([invite.headers.getAll('Via')[0]]); // one Via: the INVITE's top one
    expect(parseVia(ack.headers.get('Via')!).branch).toBe('z9hG4bK-c1');
    expect(ack.headers.get('From')).toBe(invite.headers.get('From'));
    expect(ack.headers.get('To')).toBe(busy.headers.get('To'));
    expect(toTag(ack)).toBe('b1');
    expect(ack.headers.get('Call-ID')).toBe(invite.headers.get('Call-ID'));
    expect(ack.headers.get('CSeq')).toBe('4711 ACK');
    expect(ack.headers.getAll('Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(ack.headers.get('Max-Forwards')).toBe('70');
    expect(ack.headers.has('Proxy-Authorization')).toBe(false);
    expect(ack.body.length).toBe(0);
    expect(acks()[0].dest).toEqual({ ...NEXT_HOP, flowId: 'udp-flow-1' }); // where the INVITE went (17.1.1.3)

    // Retransmissions of the final response: one ACK each, never passed to the TU again.
    await tick(1000);
    h.layer.receiveResponse(busy, from);
    h.layer.receiveResponse(busy, from);
    expect(acks()).toHaveLength(3);
    for (const a of acks()) expect(serializeMessage(a.msg).equals(serializeMessage(ack))).toBe(true);
    expect(u.responses).toHaveLength(1);
    expect(requests(h.sent, 'INVITE')).toHaveLength(2); // Timer A stopped at the final response

    // Timer D: 32 s after the failure response.
    await tick(32_000 - 1000 - 1);
    expect(tx.state).toBe('completed');
    await tick(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.client).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(u.timeouts).toEqual([]);
  });

  it('17.1.1.2: over TCP Timer D is zero', async () => {
    const h = harness();
    const u = recorder();
    const invite = request('INVITE', { transport: 'TCP' });
    const tx = h.layer.request(invite, { ...NEXT_HOP, protocol: 'tcp' }, u.user);
    await tick(0);
    h.layer.receiveResponse(answer(invite, 603, 'b1'), source('tcp', { address: NEXT_HOP.address, port: 5060 }, 'tcp-flow-1'));
    expect(requests(h.sent, 'ACK')).toHaveLength(1);
    expect(h.sent.at(-1)!.dest).toEqual({ ...NEXT_HOP, protocol: 'tcp', flowId: 'tcp-flow-1' });
    await tick(0);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.client).toBe(0);
  });

  it('17.1.4: a transport failure gives the user a synthetic 503 and terminates the transaction', async () => {
    const h = harness();
    const u = recorder();
    h.state.failSends = true;
    const tx = h.layer.request(request('INVITE', { transport: 'TCP' }), { ...NEXT_HOP, protocol: 'tcp' }, u.user);
    await tick(0);
    expect(u.statuses()).toEqual([503]);
    expect(u.timeouts).toHaveLength(1);
    expect(u.responses[0].res.headers.get('Reason')).toMatch(/^SIP;cause=503/);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.client).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await tick(64 * T1);
    expect(h.sent).toHaveLength(1);
    expect(u.responses).toHaveLength(1);
  });
});

describe('non-INVITE client transaction (RFC 3261 17.1.2)', () => {
  it('17.1.2.2: Timer E doubles from T1 and is capped at T2; Timer F (64*T1) gives one 408', async () => {
    const h = harness();
    const u = recorder();
    const tx = h.layer.request(request('OPTIONS'), NEXT_HOP, u.user);
    expect(tx.state).toBe('trying');
    await tick(64 * T1 - 1);
    expect(h.sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(u.responses).toEqual([]);
    await tick(1);
    expect(u.statuses()).toEqual([408]);
    expect(u.timeouts).toEqual([64 * T1]);
    expect(tx.state).toBe('terminated');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('17.1.2.2: in Proceeding Timer E fires every T2, and Timer F still applies', async () => {
    const h = harness();
    const u = recorder();
    const options = request('OPTIONS');
    const tx = h.layer.request(options, NEXT_HOP, u.user);
    await tick(600);
    h.layer.receiveResponse(answer(options, 100), source());
    expect(tx.state).toBe('proceeding');
    expect(u.statuses()).toEqual([100]);
    await tick(64 * T1 - 600 - 1);
    // The pending Timer E (due at 1500) fires, then every T2.
    expect(h.sent.map((s) => s.at)).toEqual([0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
    await tick(1);
    expect(u.statuses()).toEqual([100, 408]);
  });

  it('17.1.2.2: a final response moves to Completed, retransmissions are absorbed, Timer K is T4 over UDP', async () => {
    const h = harness();
    const u = recorder();
    const options = request('OPTIONS');
    const tx = h.layer.request(options, NEXT_HOP, u.user);
    await tick(T1 + 10);
    h.layer.receiveResponse(answer(options, 200, 'b1'), source());
    expect(tx.state).toBe('completed');
    h.layer.receiveResponse(answer(options, 200, 'b1'), source());
    expect(u.statuses()).toEqual([200]);
    await tick(T4 - 1);
    expect(tx.state).toBe('completed');
    expect(h.sent).toHaveLength(2); // no more retransmissions
    await tick(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.client).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('17.1.2.2: over TCP there is no Timer E and Timer K is zero', async () => {
    const h = harness();
    const u = recorder();
    const bye = request('BYE', { transport: 'TCP', toTag: 'b1' });
    const tx = h.layer.request(bye, { ...NEXT_HOP, protocol: 'tcp' }, u.user);
    await tick(10_000);
    expect(h.sent).toHaveLength(1);
    h.layer.receiveResponse(answer(bye, 200), source('tcp'));
    expect(u.statuses()).toEqual([200]);
    await tick(0);
    expect(tx.state).toBe('terminated');
  });

  it('17.1.3: responses match by top Via branch and CSeq method; anything else is stray', async () => {
    const h = harness();
    const u = recorder();
    const invite = request('INVITE');
    h.layer.request(invite, NEXT_HOP, u.user);
    const other = request('INVITE', { branch: 'z9hG4bK-other' });
    h.layer.receiveResponse(answer(other, 180, 'x'), source());
    h.layer.receiveResponse(answer(invite, 200, 'x', 'CANCEL'), source()); // same branch, CSeq CANCEL
    expect(u.responses).toEqual([]);
    expect(h.of('stray').map((e) => e.res.status)).toEqual([180, 200]);

    // A CANCEL (same branch, RFC 9.1) is its own client transaction.
    const cu = recorder();
    const cancel = request('CANCEL');
    h.layer.request(cancel, NEXT_HOP, cu.user);
    h.layer.receiveResponse(answer(cancel, 200), source());
    h.layer.receiveResponse(answer(invite, 487, 'x'), source());
    expect(cu.statuses()).toEqual([200]);
    expect(u.statuses()).toEqual([487]);
    expect(h.layer.findClient('z9hG4bK-c1', 'INVITE')?.state).toBe('completed');

    expect(() => h.layer.request(request('OPTIONS', { branch: 'abc' }), NEXT_HOP, u.user)).toThrow(/magic-cookie/);
    h.layer.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('INVITE server transaction (RFC 3261 17.2.1, RFC 6026)', () => {
  const rport = { rport: true };
  const replyDest: Destination = { protocol: 'udp', address: PEER.address, port: PEER.port, flowId: 'udp-in-1' };

  function incoming(h: ReturnType<typeof harness>, req: SipRequest, src = source()): ServerTransaction {
    h.layer.receiveRequest(req, src);
    const ev = h.of('request').at(-1)!;
    expect(ev.req).toBe(req);
    return ev.tx!;
  }

  it('17.2.1: a new INVITE starts in Proceeding; a retransmission is absorbed before any response and re-sends the last provisional after', async () => {
    const h = harness();
    const invite = request('INVITE', rport);
    const tx = incoming(h, invite);
    expect(tx.state).toBe('proceeding');
    expect(tx.dest).toEqual(replyDest);

    h.layer.receiveRequest(request('INVITE', rport), source());
    expect(h.sent).toEqual([]);
    tx.respond(responseTo(invite, 100, 'Trying'));
    h.layer.receiveRequest(request('INVITE', rport), source());
    expect(responses(h.sent).map((r) => r.status)).toEqual([100, 100]);
    tx.respond(responseTo(invite, 180, 'Ringing', 'u1'));
    expect(tx.state).toBe('proceeding');
    h.layer.receiveRequest(request('INVITE', rport), source());
    expect(responses(h.sent).map((r) => r.status)).toEqual([100, 100, 180, 180]);
    expect(h.sent.every((s) => JSON.stringify(s.dest) === JSON.stringify(replyDest))).toBe(true);
    expect(h.of('request')).toHaveLength(1); // never re-delivered to the TU
    await tick(120_000);
    expect(h.sent).toHaveLength(4); // provisionals are not retransmitted by the transaction
    expect(tx.state).toBe('proceeding');
  });

  it('17.2.1: a 3xx-6xx is retransmitted on Timer G (T1 doubling to T2) until the ACK; the ACK moves to Confirmed and Timer I (T4) ends it', async () => {
    const h = harness();
    const invite = request('INVITE', rport);
    const tx = incoming(h, invite);
    tx.respond(responseTo(invite, 100, 'Trying'));
    tx.respond(responseTo(invite, 486, 'Busy Here', 'u1'));
    expect(tx.state).toBe('completed');
    expect(tx.finalSent).toBe(true);
    await tick(12_000);
    const finals = () => h.sent.filter((s) => s.msg.kind === 'response' && s.msg.status === 486);
    expect(finals().map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 11500]);
    h.layer.receiveRequest(request('INVITE', rport), source()); // a retransmitted INVITE: the final again
    expect(finals()).toHaveLength(7);
    expect(() => tx.respond(responseTo(invite, 200, 'OK', 'u1'))).toThrow(/already answered/);

    const ack = request('ACK', { ...rport, toTag: 'u1' });
    h.layer.receiveRequest(ack, source());
    expect(tx.state).toBe('confirmed');
    h.layer.receiveRequest(ack, source()); // ACK retransmission: absorbed
    h.layer.receiveRequest(request('INVITE', rport), source()); // and so is the INVITE
    expect(h.of('request')).toHaveLength(1);
    await tick(T4 - 1);
    expect(finals()).toHaveLength(7); // Timer G stopped at the ACK
    expect(tx.state).toBe('confirmed');
    await tick(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.server).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(h.of('ackTimeout')).toEqual([]);
  });

  it('17.2.1: without an ACK, Timer H (64*T1) calls onAckTimeout and terminates', async () => {
    const h = harness();
    const invite = request('INVITE', rport);
    const tx = incoming(h, invite);
    tx.respond(responseTo(invite, 404, 'Not Found', 'u1'));
    await tick(64 * T1 - 1);
    expect(h.sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(h.of('ackTimeout')).toEqual([]);
    await tick(1);
    expect(h.of('ackTimeout').map((e) => e.tx)).toEqual([tx]);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.server).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('17.2.1: over TCP a failure is sent once (no Timer G) and Timer I is zero', async () => {
    const h = harness();
    const invite = request('INVITE', { transport: 'TCP' });
    const tx = incoming(h, invite, source('tcp'));
    tx.respond(responseTo(invite, 480, 'Temporarily Unavailable', 'u1'));
    await tick(20_000);
    expect(h.sent).toHaveLength(1);
    h.layer.receiveRequest(request('ACK', { transport: 'TCP', toTag: 'u1' }), source('tcp'));
    expect(tx.state).toBe('confirmed');
    await tick(0);
    expect(tx.state).toBe('terminated');
  });

  it('17.2.1 + RFC 3261 Timer H over TCP: still 64*T1 without an ACK', async () => {
    const h = harness();
    const invite = request('INVITE', { transport: 'TCP' });
    const tx = incoming(h, invite, source('tcp'));
    tx.respond(responseTo(invite, 480, 'Temporarily Unavailable', 'u1'));
    await tick(64 * T1);
    expect(h.of('ackTimeout')).toHaveLength(1);
    expect(tx.state).toBe('terminated');
  });

  it('RFC 6026 7.1: a 2xx moves to Accepted; INVITE retransmissions are absorbed, not re-delivered, until Timer L', async () => {
    const h = harness();
    const invite = request('INVITE', rport);
    const tx = incoming(h, invite);
    tx.respond(responseTo(invite, 180, 'Ringing', 'u1'));
    tx.respond(responseTo(invite, 200, 'OK', 'u1'));
    expect(tx.state).toBe('accepted');
    await tick(10_000);
    h.layer.receiveRequest(request('INVITE', rport), source());
    expect(responses(h.sent).map((r) => r.status)).toEqual([180, 200]); // the 2xx is the TU's to retransmit (13.3.1.4)
    expect(h.of('request')).toHaveLength(1);

    // The ACK for the 2xx has a new branch (17.1.1.3 does not apply): no transaction, straight to the TU.
    const ack = request('ACK', { ...rport, branch: 'z9hG4bK-ack2xx', toTag: 'u1' });
    h.layer.receiveRequest(ack, source());
    expect(h.of('request').at(-1)).toMatchObject({ req: ack, tx: undefined });
    expect(tx.state).toBe('accepted');

    await tick(64 * T1 - 10_000 - 1);
    expect(tx.state).toBe('accepted');
    await tick(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.server).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('non-INVITE server transaction (RFC 3261 17.2.2)', () => {
  it('17.2.2: retransmissions are absorbed in Trying and answered with the last response after; Timer J is 64*T1 over UDP', async () => {
    const h = harness();
    const reg = request('REGISTER', { rport: true });
    h.layer.receiveRequest(reg, source());
    const tx = h.of('request')[0].tx!;
    expect(tx.state).toBe('trying');
    h.layer.receiveRequest(request('REGISTER', { rport: true }), source());
    expect(h.sent).toEqual([]);
    tx.respond(responseTo(reg, 100, 'Trying'));
    expect(tx.state).toBe('proceeding');
    h.layer.receiveRequest(request('REGISTER', { rport: true }), source());
    tx.respond(responseTo(reg, 200, 'OK', 'r1'));
    expect(tx.state).toBe('completed');
    h.layer.receiveRequest(request('REGISTER', { rport: true }), source());
    expect(responses(h.sent).map((r) => r.status)).toEqual([100, 100, 200, 200]);
    expect(h.of('request')).toHaveLength(1);
    await tick(20_000);
    expect(h.sent).toHaveLength(4); // no response retransmission of its own
    await tick(64 * T1 - 20_000 - 1);
    expect(tx.state).toBe('completed');
    await tick(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size.server).toBe(0);
    // After Timer J the same request is a new transaction.
    h.layer.receiveRequest(request('REGISTER', { rport: true }), source());
    expect(h.of('request')).toHaveLength(2);
  });

  it('17.2.2: Timer J is zero over TCP', async () => {
    const h = harness();
    const opt = request('OPTIONS', { transport: 'TCP' });
    h.layer.receiveRequest(opt, source('tcp'));
    const tx = h.of('request')[0].tx!;
    tx.respond(responseTo(opt, 200, 'OK', 'o1'));
    expect(tx.state).toBe('completed');
    await tick(0);
    expect(tx.state).toBe('terminated');
  });
});

describe('request matching and CANCEL (RFC 3261 17.2.3, 9.2)', () => {
  it('17.2.3: a request matches by branch, sent-by and method', () => {
    const h = harness();
    h.layer.receiveRequest(request('INVITE'), source());
    h.layer.receiveRequest(request('INVITE'), source()); // retransmission
    h.layer.receiveRequest(request('INVITE', { sentBy: '192.0.2.11:5070' }), source()); // other sent-by
    h.layer.receiveRequest(request('INVITE', { sentBy: '192.0.2.10' }), source()); // port left out: another sent-by
    h.layer.receiveRequest(request('OPTIONS'), source()); // other method, same branch
    h.layer.receiveRequest(request('INVITE', { branch: 'z9hG4bK-c2' }), source()); // other branch
    expect(h.of('request')).toHaveLength(5);
    expect(new Set(h.of('request').map((e) => e.tx)).size).toBe(5);
    expect(h.layer.size.server).toBe(5);
    h.layer.close();
    expect(h.layer.size.server).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('17.2.3: the ACK for a failure (same branch, method ACK) matches the INVITE transaction', () => {
    const h = harness();
    const invite = request('INVITE');
    h.layer.receiveRequest(invite, source());
    const tx = h.of('request')[0].tx!;
    tx.respond(responseTo(invite, 486, 'Busy Here', 'u1'));
    h.layer.receiveRequest(request('ACK', { toTag: 'u1', sentBy: '192.0.2.99:5070' }), source()); // other sent-by: no match
    expect(tx.state).toBe('completed');
    h.layer.receiveRequest(request('ACK', { toTag: 'u1' }), source());
    expect(tx.state).toBe('confirmed');
    expect(h.of('request')).toHaveLength(2);
    expect(h.of('request')[1].tx).toBeUndefined();
    h.layer.close();
  });

  it('17.2.3: an ACK for a 2xx (new branch) goes to onRequest without a transaction', () => {
    const h = harness();
    const ack = request('ACK', { branch: 'z9hG4bK-new', toTag: 'u1' });
    const src = source();
    h.layer.receiveRequest(ack, src);
    expect(h.events).toEqual([{ kind: 'request', req: ack, source: src, tx: undefined }]);
    expect(h.layer.size.server).toBe(0);
    expect(h.sent).toEqual([]);
  });

  it('9.2: a CANCEL matching a pending INVITE by branch gets 200 (To tag of the INVITE response) and onCancel; retransmissions get the 200 again', () => {
    const h = harness();
    const invite = request('INVITE', { rport: true });
    h.layer.receiveRequest(invite, source());
    const tx = h.of('request')[0].tx!;
    tx.respond(responseTo(invite, 180, 'Ringing', 'u1'));
    const cancel = request('CANCEL', { rport: true });
    h.layer.receiveRequest(cancel, source());
    const res = responses(h.sent).at(-1)!;
    expect(res.status).toBe(200);
    expect(res.headers.get('CSeq')).toBe('1 CANCEL');
    expect(toTag(res)).toBe('u1'); // 9.2: SHOULD be the tag of the response to the INVITE
    expect(h.sent.at(-1)!.dest).toEqual({ protocol: 'udp', address: PEER.address, port: PEER.port, flowId: 'udp-in-1' });
    expect(h.of('cancel')).toHaveLength(1);
    expect(h.of('cancel')[0]).toMatchObject({ invite: tx, cancel });
    expect(tx.cancelled).toBe(true);
    expect(tx.state).toBe('proceeding'); // answering the INVITE (487) is the TU's
    expect(h.of('request')).toHaveLength(1); // the CANCEL is not a new request for the TU

    h.layer.receiveRequest(request('CANCEL', { rport: true }), source());
    expect(responses(h.sent).map((r) => r.status)).toEqual([180, 200, 200]);
    expect(h.of('cancel')).toHaveLength(1);
    h.layer.close();
  });

  it('9.2 + 8.2.6.2: a CANCEL before any tagged response still gets a To tag on its 200', () => {
    const h = harness();
    const invite = request('INVITE');
    h.layer.receiveRequest(invite, source());
    h.of('request')[0].tx!.respond(responseTo(invite, 100, 'Trying'));
    h.layer.receiveRequest(request('CANCEL'), source());
    const res = responses(h.sent).at(-1)!;
    expect(res.status).toBe(200);
    expect(toTag(res)).toMatch(/^\w+/);
    h.layer.close();
  });

  it('9.2: a CANCEL matching no transaction gets 481 (with a To tag, 8.2.6.2) and no onCancel', () => {
    const h = harness();
    h.layer.receiveRequest(request('CANCEL', { branch: 'z9hG4bK-nothing' }), source());
    const res = responses(h.sent)[0];
    expect(res.status).toBe(481);
    expect(res.headers.get('CSeq')).toBe('1 CANCEL');
    expect(toTag(res)).toBeTruthy();
    expect(h.events).toEqual([]);
    // An INVITE with the same branch from another sent-by does not match either.
    h.layer.receiveRequest(request('INVITE', { branch: 'z9hG4bK-x', sentBy: '192.0.2.11:5070' }), source());
    h.layer.receiveRequest(request('CANCEL', { branch: 'z9hG4bK-x' }), source());
    expect(responses(h.sent).map((r) => r.status)).toEqual([481, 481]);
    expect(h.of('cancel')).toEqual([]);
    h.layer.close();
  });

  it.each([
    [486, 'Busy Here', 'completed'],
    [200, 'OK', 'accepted'],
  ] as const)('9.2: a CANCEL after the final response (%i) gets 200 but has no effect on the INVITE', async (status, reason, state) => {
    const h = harness();
    const invite = request('INVITE');
    h.layer.receiveRequest(invite, source());
    const tx = h.of('request')[0].tx!;
    tx.respond(responseTo(invite, status, reason, 'u1'));
    h.layer.receiveRequest(request('CANCEL'), source());
    const res = responses(h.sent).find((r) => r.headers.get('CSeq') === '1 CANCEL')!;
    expect(res.status).toBe(200);
    expect(toTag(res)).toBe('u1');
    expect(h.of('cancel')).toEqual([]);
    expect(tx.cancelled).toBe(false);
    expect(tx.state).toBe(state);
    h.layer.close();
  });

  it('9.2: a CANCEL after the INVITE transaction ended (Timer L) gets 481', async () => {
    const h = harness();
    const invite = request('INVITE');
    h.layer.receiveRequest(invite, source());
    h.of('request')[0].tx!.respond(responseTo(invite, 200, 'OK', 'u1'));
    await tick(64 * T1);
    h.layer.receiveRequest(request('CANCEL'), source());
    expect(responses(h.sent).at(-1)!.status).toBe(481);
    expect(h.of('cancel')).toEqual([]);
    h.layer.close();
  });

  it('17.2.3: RFC 2543 requests (no magic cookie) match their retransmissions, ACK and CANCEL', () => {
    const h = harness();
    for (const branch of [null, '1a2b3c']) {
      h.events.length = 0;
      h.sent.length = 0;
      const callId = `2543-${branch}`;
      const invite = request('INVITE', { branch, callId });
      h.layer.receiveRequest(invite, source());
      const tx = h.of('request')[0].tx!;
      tx.respond(responseTo(invite, 100, 'Trying'));
      h.layer.receiveRequest(request('INVITE', { branch, callId }), source());
      expect(responses(h.sent).map((r) => r.status)).toEqual([100, 100]);
      expect(h.of('request')).toHaveLength(1);

      // Another CSeq (a new INVITE of the same call) is another transaction.
      h.layer.receiveRequest(request('INVITE', { branch, callId, cseq: 2 }), source());
      expect(h.of('request')).toHaveLength(2);
      expect(h.of('request')[1].tx).not.toBe(tx);

      h.layer.receiveRequest(request('CANCEL', { branch, callId }), source());
      expect(h.of('cancel').map((e) => e.invite)).toEqual([tx]);
      tx.respond(responseTo(invite, 487, 'Request Terminated', 'u1'));
      h.layer.receiveRequest(request('ACK', { branch, callId, toTag: 'u1' }), source());
      expect(tx.state).toBe('confirmed');
      expect(h.of('request')).toHaveLength(2);
    }
    h.layer.close();
  });
});

describe('responseTo (RFC 3261 8.2.6.2)', () => {
  const req = request('INVITE', {
    lowerVias: ['SIP/2.0/TCP 203.0.113.5:5060;branch=z9hG4bK-p1;received=203.0.113.5', 'SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK-ua'],
    extra: [['Record-Route', '<sip:p1.example.com;lr>'], ['Timestamp', '54']],
    body: 'v=0\r\n',
  });

  it('8.2.6.2: copies every Via in order, From, To, Call-ID and CSeq, and nothing else', () => {
    const res = responseTo(req, 486, 'Busy Here');
    expect(res).toMatchObject({ kind: 'response', status: 486, reason: 'Busy Here' });
    expect(res.headers.getAll('Via')).toEqual(req.headers.getAll('Via'));
    expect(res.headers.getAll('Via')).toHaveLength(3);
    expect([...res.headers.entries()].map(([n]) => n)).toEqual(['Via', 'Via', 'Via', 'From', 'To', 'Call-ID', 'CSeq']);
    for (const n of ['From', 'To', 'Call-ID', 'CSeq']) expect(res.headers.get(n)).toBe(req.headers.get(n));
    expect(res.body.length).toBe(0);
    // The copy is independent of the request.
    res.headers.set('To', 'changed');
    expect(req.headers.get('To')).toBe('<sip:bob@example.com>');
  });

  it('8.2.6.2: adds the To tag to responses above 100, never to a 100, and keeps an existing tag', () => {
    expect(responseTo(req, 100, 'Trying', 'u1').headers.get('To')).toBe('<sip:bob@example.com>');
    expect(responseTo(req, 180, 'Ringing', 'u1').headers.get('To')).toBe('<sip:bob@example.com>;tag=u1');
    expect(responseTo(req, 200, 'OK').headers.get('To')).toBe('<sip:bob@example.com>');
    const inDialog = request('BYE', { toTag: 'old' });
    expect(responseTo(inDialog, 200, 'OK', 'new').headers.get('To')).toBe('<sip:bob@example.com>;tag=old');
  });
});

describe('responseDestination (RFC 3261 18.2.2, RFC 3581)', () => {
  const nat = { address: '203.0.113.77', port: 40123 };

  it('RFC 3581 4: with rport, UDP responses go to the source address and port', () => {
    const req = request('REGISTER', { sentBy: '10.0.0.5:5060', rport: true });
    expect(responseDestination(req, source('udp', nat, 'u-1'))).toEqual({ protocol: 'udp', address: nat.address, port: nat.port, flowId: 'u-1' });
  });

  it('18.2.2: without rport, UDP responses go to the source address at the Via port, or 5060', () => {
    expect(responseDestination(request('REGISTER', { sentBy: '10.0.0.5:5080' }), source('udp', nat, 'u-1'))).toEqual({
      protocol: 'udp',
      address: nat.address,
      port: 5080,
      flowId: 'u-1',
    });
    expect(responseDestination(request('REGISTER', { sentBy: 'ua.example.com' }), source('udp', nat, 'u-1')).port).toBe(5060);
  });

  it.each(['tcp', 'tls', 'ws', 'wss'] as const)('18.2.2: over %s the response goes back on the same flow', (protocol) => {
    const req = request('REGISTER', { transport: protocol.toUpperCase(), sentBy: 'ua.invalid:9999' });
    expect(responseDestination(req, source(protocol, nat, 'conn-7'))).toEqual({ protocol, address: nat.address, port: nat.port, flowId: 'conn-7' });
  });
});
