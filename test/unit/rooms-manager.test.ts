import type { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DialPlanStore } from '../../src/dialplan/store.js';
import { AdmissionError, MediaUnavailableError, RoomManager, type MediaPlane, type MediaRoomSpec, type RoomManagerEvents } from '../../src/rooms/manager.js';
import { RoomStore } from '../../src/rooms/store.js';
import { PinGuard } from '../../src/rooms/pin-guard.js';
import { openDatabase } from '../../src/store/database.js';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

/** knude's MediaPlane interface in memory: records calls, can be slowed down, fail and restart. */
class MemoryMedia implements MediaPlane {
  readonly rooms = new Map<string, MediaRoomSpec>();
  readonly calls: string[] = [];
  /** When set, ensureRoom/destroyRoom wait for it. */
  gate: Deferred | undefined;
  failEnsure: Error | undefined;
  private readonly handlers: Record<'restarted' | 'down', Array<() => void>> = { restarted: [], down: [] };

  async ensureRoom(spec: MediaRoomSpec): Promise<void> {
    this.calls.push(`ensure ${spec.roomId}`);
    if (this.gate) await this.gate.promise;
    if (this.failEnsure) throw this.failEnsure;
    this.rooms.set(spec.roomId, spec);
  }

  async destroyRoom(roomId: string): Promise<void> {
    this.calls.push(`destroy ${roomId}`);
    if (this.gate) await this.gate.promise;
    this.rooms.delete(roomId);
  }

  on(event: 'restarted' | 'down', fn: () => void): void {
    this.handlers[event].push(fn);
  }

  crash(): void {
    this.rooms.clear();
    for (const fn of this.handlers.down) fn();
  }

  restart(): void {
    this.rooms.clear();
    for (const fn of this.handlers.restarted) fn();
  }
}

let clock: Date;
let plan: DialPlanStore;
let store: RoomStore;
let media: MemoryMedia;
let manager: RoomManager;
let events: Array<{ event: keyof RoomManagerEvents; payload: Record<string, unknown> }>;

const EVENTS: Array<keyof RoomManagerEvents> = ['pin-refused', 'participant-joined', 'participant-left', 'room-opened', 'room-closed', 'lobby-released', 'media-restarted'];
const named = (name: keyof RoomManagerEvents) => events.filter((e) => e.event === name).map((e) => e.payload);

beforeEach(() => {
  clock = new Date('2025-03-01T12:00:00Z');
  plan = new DialPlanStore(openDatabase(':memory:'));
  plan.updateSettings({ ownDomains: ['video.example.se'] });
  plan.createOrg({ name: 'region-skane' });
  plan.addBlock('region-skane', '+4640');
  store = new RoomStore(plan, { now: () => clock });
  store.create({ org: 'region-skane', name: 'Akut', id: 'akut', aliases: ['+46405000'] });
  store.create({ org: 'region-skane', name: 'Ward', id: 'ward', maxParticipants: 3 });
  store.create({ org: 'region-skane', name: 'Lobby', id: 'lobby', hostPin: '9999', lobby: true });
  media = new MemoryMedia();
  manager = new RoomManager({ store, media, log: pino({ level: 'silent' }), now: () => clock });
  events = [];
  for (const name of EVENTS) (manager as unknown as EventEmitter).on(name, (payload: Record<string, unknown>) => events.push({ event: name, payload }));
});

describe('joining and leaving', () => {
  it('the first join makes the media room exist; concurrent first joins create it once', async () => {
    media.gate = deferred();
    const joins = Promise.all(['Anna', 'Bertil', 'Cecilia', 'David'].map((displayName) => manager.join('akut', { kind: 'browser', displayName })));
    await tick();
    expect(media.calls).toEqual(['ensure akut']);
    expect(named('participant-joined')).toEqual([]);
    media.gate.resolve();
    const ps = await joins;
    expect(media.calls).toEqual(['ensure akut']);
    expect(media.rooms.get('akut')).toEqual({ roomId: 'akut', maxParticipants: 25, description: 'Akut' });
    expect(new Set(ps.map((p) => p.id)).size).toBe(4);
    expect(events.map((e) => e.event)).toEqual(['room-opened', 'participant-joined', 'participant-joined', 'participant-joined', 'participant-joined']);
    expect(ps[0]).toMatchObject({ roomId: 'akut', org: 'region-skane', kind: 'browser', displayName: 'Anna', role: 'guest', joinedAt: clock.toISOString(), waitingInLobby: false });
  });

  it('joins by alias in any dialled form', async () => {
    const p = await manager.join('040-5000', { kind: 'sip', displayName: 'Cisco SX80', org: 'region-skane' });
    expect(p).toMatchObject({ roomId: 'akut', kind: 'sip', callerOrg: 'region-skane' });
  });

  it('the last one out destroys the media room; leave is idempotent', async () => {
    const a = await manager.join('akut', { kind: 'browser', displayName: 'Anna' });
    const b = await manager.join('akut', { kind: 'sip', displayName: 'Room system' });
    clock = new Date(clock.getTime() + 60_000);
    expect(manager.leave(a.id, 'left')).toBe(true);
    await tick();
    expect(media.calls).toEqual(['ensure akut']);
    expect(manager.leave(a.id)).toBe(false);
    clock = new Date(clock.getTime() + 60_000);
    expect(manager.leave(b.id, 'bye')).toBe(true);
    await tick();
    expect(media.calls).toEqual(['ensure akut', 'destroy akut']);
    expect(media.rooms.has('akut')).toBe(false);
    expect(manager.leave(b.id)).toBe(false);
    expect(manager.activeRooms()).toEqual([]);
    expect(named('participant-left').map((e) => [e.reason, e.durationMs, e.participants])).toEqual([
      ['left', 60_000, 1],
      ['bye', 120_000, 0],
    ]);
    expect(named('room-closed')).toEqual([
      { roomId: 'akut', org: 'region-skane', roomKind: 'permanent', openedAt: '2025-03-01T12:00:00.000Z', at: '2025-03-01T12:02:00.000Z', durationMs: 120_000, peakParticipants: 2 },
    ]);
    expect(manager.leave('no-such-id')).toBe(false);
  });

  it('a room reopened while its media room is still being destroyed is created after the destroy', async () => {
    const a = await manager.join('akut', { kind: 'browser', displayName: 'Anna' });
    media.gate = deferred();
    manager.leave(a.id);
    const again = manager.join('akut', { kind: 'browser', displayName: 'Anna' });
    await tick();
    expect(media.calls).toEqual(['ensure akut', 'destroy akut']);
    media.gate.resolve();
    await again;
    expect(media.calls).toEqual(['ensure akut', 'destroy akut', 'ensure akut']);
    expect(media.rooms.has('akut')).toBe(true);
    expect(named('room-opened')).toHaveLength(2);
  });

  it('a media room that cannot be created fails the join and leaves nothing behind; the next join retries', async () => {
    media.failEnsure = new Error('janus: timeout');
    const joins = await Promise.allSettled([manager.join('akut', { kind: 'browser', displayName: 'A' }), manager.join('akut', { kind: 'browser', displayName: 'B' })]);
    expect(joins.map((j) => j.status)).toEqual(['rejected', 'rejected']);
    expect((joins[0] as PromiseRejectedResult).reason).toBeInstanceOf(MediaUnavailableError);
    expect(manager.activeRooms()).toEqual([]);
    expect(named('participant-joined')).toEqual([]);
    expect(named('room-opened')).toEqual([]);
    media.failEnsure = undefined;
    await manager.join('akut', { kind: 'browser', displayName: 'A' });
    expect(media.calls.filter((c) => c === 'ensure akut')).toHaveLength(2);
    expect(manager.participants('akut')).toHaveLength(1);
  });
});

describe('admission through the manager', () => {
  it('refuses with typed AdmissionErrors', async () => {
    store.update('akut', { guestPin: '1234' });
    const refusal = async (target: string, pin?: string) => {
      const err = await manager.join(target, { kind: 'browser', displayName: 'X', pin }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AdmissionError);
      return { reason: (err as AdmissionError).reason, message: (err as AdmissionError).message };
    };
    expect(await refusal('nowhere')).toEqual({ reason: 'not-found', message: 'There is no meeting room at this address.' });
    expect(await refusal('+46409999')).toMatchObject({ reason: 'not-found' });
    expect(await refusal('akut', '0000')).toMatchObject({ reason: 'wrong-pin', message: expect.stringMatching(/PIN is not right/) });
    expect(await refusal('akut')).toMatchObject({ reason: 'pin-required' });
    expect(media.calls).toEqual([]);
  });

  it('stops an address guessing PINs across joins, for that room only; right PINs do not reset it', async () => {
    store.update('akut', { guestPin: '1234', hostPin: '9876' });
    let guardNow = 0;
    const guarded = new RoomManager({ store, media, log: pino({ level: 'silent' }), now: () => clock, pinGuard: new PinGuard({ maxFailures: 3, windowMs: 600_000, now: () => guardNow }) });
    const join = (pin: string | undefined, source?: string) =>
      guarded.join('akut', { kind: 'sip', displayName: 'X', ...(pin !== undefined ? { pin } : {}), ...(source ? { source } : {}) }).then(
        (p) => p.role,
        (e: AdmissionError) => e.reason,
      );
    expect(await join('0000', '192.0.2.7')).toBe('wrong-pin');
    expect(await join('1234', '192.0.2.7')).toBe('guest');
    expect(await join(undefined, '192.0.2.7')).toBe('pin-required'); // no PIN is no guess
    expect(await join('1111', '192.0.2.7')).toBe('wrong-pin');
    expect(await join('2222', '192.0.2.7')).toBe('wrong-pin');
    // Three wrong: even the right PIN is refused now, with how long to wait.
    const err = await guarded.join('akut', { kind: 'sip', displayName: 'X', pin: '9876', source: '192.0.2.7' }).catch((e: unknown) => e as AdmissionError);
    expect(err).toMatchObject({ reason: 'too-many-attempts', message: 'Too many wrong PINs for this meeting from your network. Try again in 10 minutes.' });
    expect(await join('9876', '192.0.2.8')).toBe('host');
    expect(await join('9876')).toBe('host'); // no address known: not guarded
    guardNow += 600_000;
    expect(await join('9876', '192.0.2.7')).toBe('host');
    guarded.dispose();
  });

  it('tells of every refused PIN (for the metrics)', async () => {
    store.update('akut', { guestPin: '1234' });
    await manager.join('akut', { kind: 'browser', displayName: 'X', pin: '0000' }).catch(() => undefined);
    await manager.join('akut', { kind: 'browser', displayName: 'X' }).catch(() => undefined);
    expect(named('pin-refused')).toEqual([{ roomId: 'akut', org: 'region-skane', kind: 'browser', reason: 'wrong-pin', at: clock.toISOString() }]);
    // Before the meeting starts the PIN is not what refuses: not counted.
    store.create({ org: 'region-skane', name: 'Later', id: 'later', kind: 'one-time', guestPin: '1234', validFrom: '2025-03-01T13:00:00Z', validUntil: '2025-03-01T14:00:00Z' });
    const early = await manager.join('later', { kind: 'browser', displayName: 'X', pin: '0000' }).catch((e: unknown) => e as AdmissionError);
    expect(early).toMatchObject({ reason: 'not-yet-valid' });
    expect(named('pin-refused')).toHaveLength(1);
  });

  it('never overfills a room, also when joins race', async () => {
    media.gate = deferred();
    const joins = Promise.allSettled([1, 2, 3, 4, 5].map((n) => manager.join('ward', { kind: 'browser', displayName: `P${n}` })));
    media.gate.resolve();
    const results = await joins;
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as AdmissionError);
    expect(refused.map((e) => [e.reason, e.message])).toEqual([
      ['full', 'The meeting room is full (3 participants).'],
      ['full', 'The meeting room is full (3 participants).'],
    ]);
  });

  it('reads the stored room on every join: a lock applies at once, hosts still enter', async () => {
    store.update('ward', { hostPin: '4444' });
    await manager.join('ward', { kind: 'browser', displayName: 'Guest' });
    store.setLocked('ward', true);
    await expect(manager.join('ward', { kind: 'browser', displayName: 'Late' })).rejects.toMatchObject({ reason: 'locked' });
    const host = await manager.join('ward', { kind: 'browser', displayName: 'Doctor', pin: '4444' });
    expect(host.role).toBe('host');
  });

  it('refuses a participant without a display name or with an unknown kind', async () => {
    await expect(manager.join('akut', { kind: 'browser', displayName: '  ' })).rejects.toThrow(/display name/);
    await expect(manager.join('akut', { kind: 'h323' as 'sip', displayName: 'x' })).rejects.toThrow(/browser or sip/);
  });
});

describe('lobby', () => {
  it('guests wait until a host joins, then are released with an event each', async () => {
    const g1 = await manager.join('lobby', { kind: 'browser', displayName: 'Patient' });
    clock = new Date(clock.getTime() + 30_000);
    const g2 = await manager.join('lobby', { kind: 'sip', displayName: 'Interpreter' });
    expect([g1.waitingInLobby, g2.waitingInLobby]).toEqual([true, true]);
    expect(named('participant-joined').map((e) => e.waitingInLobby)).toEqual([true, true]);
    clock = new Date(clock.getTime() + 30_000);
    const host = await manager.join('lobby', { kind: 'browser', displayName: 'Doctor', pin: '9999' });
    expect(host).toMatchObject({ role: 'host', waitingInLobby: false });
    expect(named('lobby-released').map((e) => [e.participantId, e.waitedMs])).toEqual([
      [g1.id, 60_000],
      [g2.id, 30_000],
    ]);
    expect(manager.participant(g1.id)?.waitingInLobby).toBe(false);
    const g3 = await manager.join('lobby', { kind: 'browser', displayName: 'Relative' });
    expect(g3.waitingInLobby).toBe(false);
    expect(named('lobby-released')).toHaveLength(2);
  });

  it('guests joining together with the host are not told to wait', async () => {
    media.gate = deferred();
    const host = manager.join('lobby', { kind: 'browser', displayName: 'Doctor', pin: '9999' });
    const guest = manager.join('lobby', { kind: 'browser', displayName: 'Patient' });
    // Both admitted and waiting for the media room (the host's PIN is hashed on the thread
    // pool first): the room's participant map holds both while neither has been handed out.
    const inRoom = () => (manager as unknown as { rooms: Map<string, { participants: Map<string, unknown> }> }).rooms.get('lobby')?.participants.size;
    await vi.waitFor(() => expect(inRoom()).toBe(2));
    media.gate.resolve();
    expect((await guest).waitingInLobby).toBe(false);
    expect((await host).role).toBe('host');
    expect(named('lobby-released')).toEqual([]);
  });
});

describe('media restarts', () => {
  it('re-creates the media room of every active room and tells signalling', async () => {
    await manager.join('akut', { kind: 'browser', displayName: 'A' });
    await manager.join('ward', { kind: 'sip', displayName: 'B' });
    media.calls.length = 0;
    media.crash();
    expect(manager.snapshot().rooms.map((r) => r.media)).toEqual(['down', 'down']);
    media.restart();
    await tick();
    expect(media.calls.sort()).toEqual(['ensure akut', 'ensure ward']);
    expect([...media.rooms.keys()].sort()).toEqual(['akut', 'ward']);
    expect(named('media-restarted')).toEqual([{ roomIds: ['akut', 'ward'], failed: [], at: clock.toISOString() }]);
    expect(manager.participants('akut')).toHaveLength(1);
    expect(named('room-opened')).toHaveLength(2);
    expect(manager.snapshot().rooms.map((r) => r.media)).toEqual(['ready', 'ready']);
  });

  it('a join while the media server is down fails clearly; after the restart joins work again', async () => {
    await manager.join('akut', { kind: 'browser', displayName: 'A' });
    media.crash();
    media.failEnsure = new Error('connection refused');
    await expect(manager.join('akut', { kind: 'browser', displayName: 'B' })).rejects.toBeInstanceOf(MediaUnavailableError);
    expect(manager.participants('akut')).toHaveLength(1);
    media.failEnsure = undefined;
    media.restart();
    await tick();
    await manager.join('akut', { kind: 'browser', displayName: 'B' });
    expect(manager.participants('akut')).toHaveLength(2);
  });

  it('reports rooms whose media room could not be rebuilt', async () => {
    await manager.join('akut', { kind: 'browser', displayName: 'A' });
    media.failEnsure = new Error('still starting');
    media.restart();
    await tick();
    await tick();
    expect(named('media-restarted')).toMatchObject([{ roomIds: [], failed: ['akut'] }]);
  });
});

describe('events and introspection', () => {
  it('events carry ids, kinds, organisations and times, never display names', async () => {
    const p = await manager.join('akut', { kind: 'sip', displayName: 'Dr Secret', org: 'region-skane' });
    manager.leave(p.id, 'bye');
    const joined = named('participant-joined')[0];
    expect(joined).toEqual({
      participantId: p.id,
      roomId: 'akut',
      org: 'region-skane',
      callerOrg: 'region-skane',
      kind: 'sip',
      role: 'guest',
      at: '2025-03-01T12:00:00.000Z',
      joinedAt: '2025-03-01T12:00:00.000Z',
      waitingInLobby: false,
      participants: 1,
    });
    expect(named('room-opened')).toEqual([{ roomId: 'akut', org: 'region-skane', roomKind: 'permanent', at: '2025-03-01T12:00:00.000Z' }]);
    expect(JSON.stringify(events)).not.toContain('Dr Secret');
  });

  it('a listener that throws does not break a join or other listeners', async () => {
    const seen: string[] = [];
    manager.on('participant-joined', () => {
      throw new Error('buggy subscriber');
    });
    manager.on('participant-joined', (e) => seen.push(e.participantId));
    const p = await manager.join('akut', { kind: 'browser', displayName: 'A' });
    expect(seen).toEqual([p.id]);
  });

  it('closeRoom ends a meeting for everyone', async () => {
    await manager.join('akut', { kind: 'browser', displayName: 'A' });
    await manager.join('akut', { kind: 'browser', displayName: 'B' });
    expect(manager.closeRoom('akut', 'ended')).toBe(2);
    expect(named('participant-left').map((e) => e.reason)).toEqual(['ended', 'ended']);
    expect(named('room-closed')).toHaveLength(1);
    expect(manager.closeRoom('akut')).toBe(0);
  });

  it('snapshot lists active rooms with their participants as JSON', async () => {
    const a = await manager.join('akut', { kind: 'browser', displayName: 'Anna' });
    const snap = JSON.parse(JSON.stringify(manager.snapshot()));
    expect(snap).toEqual({
      at: '2025-03-01T12:00:00.000Z',
      rooms: [
        {
          roomId: 'akut',
          name: 'Akut',
          org: 'region-skane',
          roomKind: 'permanent',
          locked: false,
          lobby: false,
          maxParticipants: 25,
          media: 'ready',
          openedAt: '2025-03-01T12:00:00.000Z',
          peakParticipants: 1,
          participants: [{ id: a.id, kind: 'browser', displayName: 'Anna', role: 'guest', joinedAt: '2025-03-01T12:00:00.000Z', waitingInLobby: false, joining: false }],
        },
      ],
    });
  });
});
