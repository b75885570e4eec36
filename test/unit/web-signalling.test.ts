/**
 * Browser signalling (`/ws/rooms`) over a real WebSocket, with the real room manager and a
 * media plane that stands in for Janus: here, that a subscriber renegotiation the media server
 * refuses once (a publisher announced a moment before it can be subscribed to) is tried again.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DialPlanStore } from '../../src/dialplan/store.js';
import type { BrowserLeg, MediaPlane as JanusPlane, SubscriberOffer } from '../../src/media/plane.js';
import { RoomManager, type MediaPlane } from '../../src/rooms/manager.js';
import { RoomStore } from '../../src/rooms/store.js';
import { openDatabase } from '../../src/store/database.js';
import { attachRoomSignalling } from '../../src/web/signalling.js';

const OFFER: SubscriberOffer = { type: 'offer', sdp: 'v=0\r\n', streams: [{ mid: '0', feedId: 7, display: 'Other', kind: 'video' }] };

class FlakyLeg implements BrowserLeg {
  readonly feedId = 1;
  offers = 0;
  private readonly handlers = new Map<string, Array<(d?: unknown) => void>>();
  constructor(private failures: number) {}
  async publish(): Promise<{ type: 'answer'; sdp: string }> {
    return { type: 'answer', sdp: 'v=0\r\n' };
  }
  async subscriberOffer(): Promise<SubscriberOffer | undefined> {
    this.offers++;
    if (this.failures-- > 0) throw new Error('No such feed (7)');
    return OFFER;
  }
  async subscriberAnswer(): Promise<void> {}
  async trickle(): Promise<void> {}
  async setMuted(): Promise<void> {}
  on(event: string, fn: (d?: unknown) => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
  }
  emit(event: string): void {
    for (const fn of this.handlers.get(event) ?? []) fn();
  }
  async leave(): Promise<void> {}
}

let server: http.Server | undefined;
let manager: RoomManager | undefined;
afterEach(async () => {
  manager?.dispose();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

async function start(leg: FlakyLeg): Promise<string> {
  const plan = new DialPlanStore(openDatabase(':memory:'));
  plan.createOrg({ name: 'region-skane' });
  const store = new RoomStore(plan);
  store.create({ org: 'region-skane', name: 'Akut', id: 'akut' });
  const rooms: MediaPlane = { ensureRoom: async () => {}, destroyRoom: async () => {}, on: () => {} };
  manager = new RoomManager({ store, media: rooms, log: pino({ level: 'silent' }) });
  const janus = { join: async () => leg } as unknown as JanusPlane;
  server = http.createServer();
  attachRoomSignalling(server, { manager, media: janus, log: pino({ level: 'silent' }) });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws/rooms`;
}

/**
 * Joins and collects what the server says, until `until` matches one message; or, with
 * `holdMs`, stays in the room that long (a closed socket ends the session and its retries).
 */
function session(url: string, onJoined: () => void, until: (m: Record<string, unknown>) => boolean, holdMs?: number): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const got: Array<Record<string, unknown>> = [];
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      if (holdMs !== undefined) resolve(got);
      else reject(new Error(`no matching message; got ${JSON.stringify(got)}`));
    }, holdMs ?? 8000);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', alias: 'akut', displayName: 'Anna' })));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Record<string, unknown>;
      got.push(m);
      if (m.type === 'joined') onJoined();
      if (until(m)) {
        clearTimeout(timer);
        ws.close();
        resolve(got);
      }
    });
    ws.on('error', reject);
  });
}

describe('browser signalling', () => {
  it('tries a refused subscriber renegotiation again until the offer goes out', async () => {
    const leg = new FlakyLeg(2);
    const url = await start(leg);
    const got = await session(url, () => leg.emit('feeds-changed'), (m) => m.type === 'subscriber-offer');
    expect(leg.offers).toBe(3);
    expect(got.at(-1)).toEqual({ type: 'subscriber-offer', sdp: OFFER.sdp, streams: OFFER.streams });
  });

  it('gives up after a few tries', async () => {
    const leg = new FlakyLeg(Number.POSITIVE_INFINITY);
    const url = await start(leg);
    // 250 + 500 + 1000 + 2000 ms of retries, then no more.
    const got = await session(url, () => leg.emit('feeds-changed'), () => false, 5000);
    expect(leg.offers).toBe(5);
    expect(got.map((m) => m.type)).toEqual(['joined']);
  });
});
