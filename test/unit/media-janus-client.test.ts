/**
 * JanusClient against a scripted fake Janus (a ws server speaking `janus-protocol`): the
 * ack-then-event pattern, out-of-order answers, events routed to handles, timeouts and the
 * socket closing under pending requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { JanusClient, JanusConnectionError, JanusError, type PluginEvent } from '../../src/media/janus/client.js';

type Msg = Record<string, any>;

interface Fake {
  url: string;
  server: WebSocketServer;
  received: Msg[];
  socket(): WebSocket;
  close(): Promise<void>;
}

/** A fake Janus: `reply` decides what to send back for each request. */
async function fakeJanus(reply: (m: Msg, send: (x: Msg) => void) => void): Promise<Fake> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has('janus-protocol') ? 'janus-protocol' : false) });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const received: Msg[] = [];
  let last: WebSocket | undefined;
  server.on('connection', (ws) => {
    last = ws;
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as Msg;
      received.push(m);
      reply(m, (x) => ws.send(JSON.stringify(x)));
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    server,
    received,
    socket: () => last!,
    close: () =>
      new Promise<void>((r) => {
        for (const c of server.clients) c.terminate();
        server.close(() => r());
      }),
  };
}

/** Session 1, handles 10.. ; plugin messages: ack, then the event later. */
function basicJanus(onMessage?: (m: Msg, send: (x: Msg) => void) => void) {
  let nextHandle = 10;
  return (m: Msg, send: (x: Msg) => void) => {
    switch (m.janus) {
      case 'create':
        return send({ janus: 'success', transaction: m.transaction, data: { id: 1 } });
      case 'attach':
        return send({ janus: 'success', session_id: 1, transaction: m.transaction, data: { id: nextHandle++ } });
      case 'keepalive':
      case 'trickle':
        return send({ janus: 'ack', session_id: 1, transaction: m.transaction });
      case 'destroy':
      case 'detach':
      case 'hangup':
        return send({ janus: 'success', session_id: 1, transaction: m.transaction });
      case 'message':
        return onMessage?.(m, send);
      default:
        return send({ janus: 'error', transaction: m.transaction, error: { code: 453, reason: `Unknown request '${m.janus}'` } });
    }
  };
}

let fake: Fake | undefined;
let client: JanusClient | undefined;
afterEach(async () => {
  await client?.close();
  await fake?.close();
  client = undefined;
  fake = undefined;
});

describe('JanusClient (fake Janus)', () => {
  it('resolves a plugin message with the event after the ack, even when answers come out of order', async () => {
    const held: Array<() => void> = [];
    fake = await fakeJanus(
      basicJanus((m, send) => {
        send({ janus: 'ack', session_id: 1, transaction: m.transaction });
        held.push(() =>
          send({ janus: 'event', session_id: 1, sender: m.handle_id, transaction: m.transaction, plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'event', echo: m.body.n } }, ...(m.jsep ? { jsep: { type: 'answer', sdp: 'v=0 answer' } } : {}) }),
        );
        if (held.length === 3) for (const f of held.reverse()) f();
      }),
    );
    client = await JanusClient.connect(fake.url);
    const s = await client.createSession();
    const h = await s.attach('janus.plugin.videoroom');
    const results = await Promise.all([h.message({ n: 1 }), h.message({ n: 2 }, { type: 'offer', sdp: 'v=0 offer' }), h.message({ n: 3 })]);
    expect(results.map((r) => r.data.echo)).toEqual([1, 2, 3]);
    expect(results[1].jsep).toEqual({ type: 'answer', sdp: 'v=0 answer' });
    expect(results[0].plugin).toBe('janus.plugin.videoroom');
    // Every request carried its own transaction, and the message the handle and session ids.
    const msgs = fake.received.filter((m) => m.janus === 'message');
    expect(new Set(msgs.map((m) => m.transaction)).size).toBe(3);
    expect(msgs[1]).toMatchObject({ session_id: 1, handle_id: 10, jsep: { type: 'offer', sdp: 'v=0 offer' } });
  });

  it('turns plugin error_code and core errors into JanusError', async () => {
    fake = await fakeJanus(
      basicJanus((m, send) => {
        if (m.body.request === 'sync-fail') {
          send({ janus: 'success', session_id: 1, sender: m.handle_id, transaction: m.transaction, plugindata: { plugin: 'janus.plugin.audiobridge', data: { audiobridge: 'event', error_code: 485, error: 'No such room (7)' } } });
        } else {
          send({ janus: 'error', session_id: 1, transaction: m.transaction, error: { code: 459, reason: 'No such handle' } });
        }
      }),
    );
    client = await JanusClient.connect(fake.url);
    const h = await (await client.createSession()).attach('janus.plugin.audiobridge');
    const e1 = await h.message({ request: 'sync-fail' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(JanusError);
    expect(e1).toMatchObject({ code: 485, reason: 'No such room (7)', source: 'janus.plugin.audiobridge' });
    const e2 = await h.message({ request: 'x' }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 459, reason: 'No such handle', source: 'core' });
    const e3 = await client.request({ janus: 'bogus' }).catch((e: unknown) => e);
    expect(e3).toMatchObject({ code: 453 });
  });

  it('routes events without a known transaction to their handle, typed', async () => {
    fake = await fakeJanus(basicJanus());
    client = await JanusClient.connect(fake.url);
    const s = await client.createSession();
    const h1 = await s.attach('janus.plugin.videoroom');
    const h2 = await s.attach('janus.plugin.videoroom');
    const got: string[] = [];
    const events: PluginEvent[] = [];
    h1.on('event', (e) => events.push(e));
    h1.on('webrtcup', () => got.push('h1 webrtcup'));
    h2.on('webrtcup', () => got.push('h2 webrtcup'));
    h1.on('media', (m) => got.push(`h1 media ${m.type} ${m.receiving} ${m.mid}`));
    h1.on('slowlink', (m) => got.push(`h1 slowlink ${m.uplink} ${m.lost}`));
    h1.on('hangup', (m) => got.push(`h1 hangup ${m.reason}`));
    const detached = new Promise<void>((r) => h2.on('detached', () => r()));
    const ws = fake.socket();
    const send = (x: Msg) => ws.send(JSON.stringify({ session_id: 1, ...x }));
    send({ janus: 'event', sender: 10, plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'talking', id: 5 } } });
    send({ janus: 'webrtcup', sender: 11 });
    send({ janus: 'webrtcup', sender: 10 });
    send({ janus: 'media', sender: 10, type: 'video', receiving: true, mid: '1' });
    send({ janus: 'slowlink', sender: 10, uplink: false, lost: 12 });
    send({ janus: 'hangup', sender: 10, reason: 'DTLS alert' });
    send({ janus: 'detached', sender: 11 });
    await detached;
    expect(got).toEqual(['h2 webrtcup', 'h1 webrtcup', 'h1 media video true 1', 'h1 slowlink false 12', 'h1 hangup DTLS alert']);
    expect(events).toEqual([{ plugin: 'janus.plugin.videoroom', data: { videoroom: 'talking', id: 5 } }]);
    expect(h2.detached).toBe(true);
    expect(s.handles.has(11)).toBe(false);
  });

  it('trickles candidates and end-of-candidates; keepalives are acknowledged', async () => {
    fake = await fakeJanus(basicJanus());
    client = await JanusClient.connect(fake.url, { keepaliveMs: 50 });
    const s = await client.createSession();
    const h = await s.attach('janus.plugin.videoroom');
    await h.trickle({ candidate: 'candidate:1 1 udp 1 192.0.2.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    await h.trickle(null);
    await h.trickle({ candidate: '', sdpMid: '0' });
    const trickles = fake.received.filter((m) => m.janus === 'trickle').map((m) => m.candidate);
    expect(trickles).toEqual([{ candidate: 'candidate:1 1 udp 1 192.0.2.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 }, { completed: true }, { completed: true }]);
    await new Promise((r) => setTimeout(r, 160));
    expect(fake.received.filter((m) => m.janus === 'keepalive' && m.session_id === 1).length).toBeGreaterThanOrEqual(2);
    await s.destroy();
    const n = fake.received.filter((m) => m.janus === 'keepalive').length;
    await new Promise((r) => setTimeout(r, 120));
    expect(fake.received.filter((m) => m.janus === 'keepalive').length).toBe(n);
  });

  it('sends the apisecret with every request', async () => {
    fake = await fakeJanus(basicJanus());
    client = await JanusClient.connect(fake.url, { apiSecret: 's3cret' });
    await (await client.createSession()).attach('janus.plugin.videoroom');
    expect(fake.received.every((m) => m.apisecret === 's3cret')).toBe(true);
  });

  it('a request Janus never answers times out with a JanusConnectionError', async () => {
    fake = await fakeJanus(basicJanus((m, send) => send({ janus: 'ack', session_id: 1, transaction: m.transaction })));
    client = await JanusClient.connect(fake.url, { requestTimeoutMs: 150 });
    const h = await (await client.createSession()).attach('janus.plugin.videoroom');
    const started = Date.now();
    const err = await h.message({ request: 'join' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusConnectionError);
    expect((err as Error).message).toMatch(/did not answer "message" \(join\) within 150 ms/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a session timed out by Janus is lost', async () => {
    fake = await fakeJanus(basicJanus());
    client = await JanusClient.connect(fake.url);
    const s = await client.createSession();
    const lost = new Promise<string>((r) => s.on('lost', (e) => r(e.reason)));
    fake.socket().send(JSON.stringify({ janus: 'timeout', session_id: 1 }));
    expect(await lost).toBe('timeout');
    expect(client.sessions.size).toBe(0);
  });

  it('the socket closing rejects pending requests, marks sessions lost and emits close', async () => {
    fake = await fakeJanus(basicJanus((m, send) => send({ janus: 'ack', session_id: 1, transaction: m.transaction })));
    client = await JanusClient.connect(fake.url);
    const s = await client.createSession();
    const h = await s.attach('janus.plugin.videoroom');
    const pending = h.message({ request: 'join' }).catch((e: unknown) => e);
    const lost = new Promise<string>((r) => s.on('lost', (e) => r(e.reason)));
    const closed = new Promise<{ expected: boolean }>((r) => client!.on('close', r));
    await new Promise((r) => setTimeout(r, 20));
    fake.socket().terminate();
    expect(await pending).toBeInstanceOf(JanusConnectionError);
    expect(await lost).toBe('closed');
    expect((await closed).expected).toBe(false);
    expect(h.detached).toBe(true);
    await expect(h.message({ request: 'x' })).rejects.toBeInstanceOf(JanusConnectionError);
    await expect(client.info()).rejects.toBeInstanceOf(JanusConnectionError);
  });

  it('connecting to nothing fails clearly', async () => {
    const err = await JanusClient.connect('ws://127.0.0.1:1', { connectTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusConnectionError);
    expect((err as Error).message).toMatch(/cannot connect to Janus at ws:\/\/127\.0\.0\.1:1/);
  });
});
