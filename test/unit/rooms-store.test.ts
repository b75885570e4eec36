import { beforeEach, describe, expect, it } from 'vitest';
import { PlanConflictError, PlanValidationError } from '../../src/dialplan/errors.js';
import { DialPlanStore, type DialPlanChange } from '../../src/dialplan/store.js';
import { InvalidRoomError, RoomConflictError, RoomNotFoundError } from '../../src/rooms/errors.js';
import { HashedPin, hashPin, pinMatches } from '../../src/rooms/pins.js';
import { RoomStore, slugify } from '../../src/rooms/store.js';
import { openDatabase } from '../../src/store/database.js';

const NOW = new Date('2025-03-01T10:00:00Z');
let plan: DialPlanStore;
let rooms: RoomStore;

beforeEach(() => {
  plan = new DialPlanStore(openDatabase(':memory:'));
  plan.updateSettings({ ownDomains: ['video.inera.se'], countryCode: '46', nationalPrefix: '0' });
  plan.createOrg({ name: 'region-skane' });
  plan.createOrg({ name: 'vgregion' });
  plan.addBlock('region-skane', '+4640');
  plan.addBlock('vgregion', '+4631');
  plan.addDomain('region-skane', 'skane.se');
  rooms = new RoomStore(plan, { now: () => NOW });
});

const count = (table: string): number => (plan.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('creating rooms', () => {
  it('creates a permanent room with defaults and its aliases as public room aliases of its org', () => {
    const r = rooms.create({ org: 'region-skane', name: 'Akutmottagning Lund', aliases: ['+4640555', 'Room1@Skane.se'] });
    expect(r).toEqual({
      id: 'akutmottagning-lund',
      name: 'Akutmottagning Lund',
      org: 'region-skane',
      kind: 'permanent',
      maxParticipants: 25,
      lobby: false,
      locked: false,
      createdAt: NOW.toISOString(),
    });
    expect(rooms.get(r.id)).toEqual(r);
    expect(plan.getAlias('+4640555')).toEqual({ alias: '+4640555', kind: 'room', target: r.id, org: 'region-skane', public: true });
    expect(rooms.aliasesOf(r.id)).toEqual(['+4640555', 'room1@skane.se']);
  });

  it('finds a room by any form of its alias', () => {
    rooms.create({ org: 'region-skane', name: 'Room one', id: 'room-1', aliases: ['+4640555', 'room1@skane.se'] });
    expect(rooms.byAlias('040-555')?.id).toBe('room-1');
    expect(rooms.byAlias('sip:Room1@skane.se;transport=tls')?.id).toBe('room-1');
    expect(rooms.byAlias('+4640556')).toBeUndefined();
    expect(rooms.byAlias('not an alias!!')).toBeUndefined();
  });

  it('byAlias ignores aliases that lead elsewhere than a room', () => {
    plan.addAlias({ alias: '+4640100', kind: 'account', target: 'anna@video.inera.se', org: 'region-skane' });
    expect(rooms.byAlias('+4640100')).toBeUndefined();
  });

  it('makes ids unique and slug-like from the name', () => {
    expect(slugify('Akutmottagning Lund')).toBe('akutmottagning-lund');
    expect(slugify('Sjukhus Ørestad / Æblegård')).toBe('sjukhus-orestad-aeblegard');
    expect(slugify('Göteborg – Östra')).toBe('goteborg-ostra');
    expect(slugify('!!!')).toBe('room');
    expect(slugify('x'.repeat(80))).toHaveLength(48);
    const a = rooms.create({ org: 'region-skane', name: 'Vårdcentral' });
    const b = rooms.create({ org: 'region-skane', name: 'Vårdcentral' });
    const c = rooms.create({ org: 'vgregion', name: 'vårdcentral' });
    expect([a.id, b.id, c.id]).toEqual(['vardcentral', 'vardcentral-2', 'vardcentral-3']);
  });

  it('refuses a duplicate explicit id', () => {
    rooms.create({ org: 'region-skane', name: 'A', id: 'room-a' });
    expect(() => rooms.create({ org: 'vgregion', name: 'B', id: 'room-a' })).toThrow(RoomConflictError);
  });

  it('creates a one-time room with a normalised validity window', () => {
    const r = rooms.create({ org: 'vgregion', name: 'Booked', kind: 'one-time', validFrom: '2025-03-02T14:00:00+01:00', validUntil: new Date('2025-03-02T14:00:00Z') });
    expect(r.validFrom).toBe('2025-03-02T13:00:00.000Z');
    expect(r.validUntil).toBe('2025-03-02T14:00:00.000Z');
    expect(rooms.get(r.id)).toEqual(r);
  });

  it('stores branding', () => {
    const r = rooms.create({ org: 'vgregion', name: 'Branded', branding: { logoUrl: 'https://cdn.vgregion.se/logo.png', color: '#00A0DF' } });
    expect(rooms.get(r.id)?.branding).toEqual({ logoUrl: 'https://cdn.vgregion.se/logo.png', color: '#00a0df' });
  });
});

describe('aliases and transactions', () => {
  it('rolls the room back when an alias lies outside the org (the plan error surfaces unchanged)', () => {
    let error: unknown;
    try {
      rooms.create({ org: 'region-skane', name: 'Bad', id: 'bad', aliases: ['+4640777', '+4631000'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlanConflictError);
    expect((error as Error).message).toMatch(/not in a number block of that org .*\+4631 of org "vgregion"/);
    expect(rooms.get('bad')).toBeUndefined();
    expect(plan.getAlias('+4640777')).toBeUndefined();
    expect(count('rooms')).toBe(0);
  });

  it('rolls back on an alias already taken and on a malformed alias', () => {
    rooms.create({ org: 'region-skane', name: 'First', id: 'first', aliases: ['+4640555'] });
    expect(() => rooms.create({ org: 'region-skane', name: 'Second', id: 'second', aliases: ['+4640556', '040-555'] })).toThrow(/already exists \(room first/);
    expect(() => rooms.create({ org: 'region-skane', name: 'Third', id: 'third', aliases: ['@@@'] })).toThrow(PlanValidationError);
    expect(rooms.list().map((r) => r.id)).toEqual(['first']);
    expect(plan.getAlias('+4640556')).toBeUndefined();
  });

  it('tells the router once per committed change, nothing on a rollback', () => {
    const changes: DialPlanChange[] = [];
    plan.onChange((c) => changes.push(c));
    rooms.create({ org: 'region-skane', name: 'Ok', aliases: ['+4640555'] });
    expect(changes).toEqual([{ type: 'reload' }]);
    expect(() => rooms.create({ org: 'region-skane', name: 'Bad', aliases: ['+4631000'] })).toThrow();
    expect(changes).toHaveLength(1);
  });

  it('removes a room with all its aliases; a missing room is RoomNotFoundError', () => {
    const r = rooms.create({ org: 'region-skane', name: 'Gone', aliases: ['+4640555', 'gone@skane.se'] });
    plan.addAlias({ alias: '+4640556', kind: 'room', target: r.id, org: 'region-skane' });
    rooms.remove(r.id);
    expect(rooms.get(r.id)).toBeUndefined();
    expect(plan.listAliases()).toEqual([]);
    expect(() => rooms.remove(r.id)).toThrow(RoomNotFoundError);
  });

  it('adds and removes single aliases of a room', () => {
    const r = rooms.create({ org: 'region-skane', name: 'R' });
    expect(rooms.addAlias(r.id, '040 555')).toBe('+4640555');
    expect(rooms.byAlias('+4640555')?.id).toBe(r.id);
    expect(() => rooms.removeAlias('other', '+4640555')).toThrow(RoomNotFoundError);
    rooms.removeAlias(r.id, '+4640555');
    expect(rooms.aliasesOf(r.id)).toEqual([]);
  });

  it('removes one-time rooms that have ended', () => {
    const later = new RoomStore(plan, { now: () => NOW });
    later.create({ org: 'vgregion', name: 'Done', id: 'done', kind: 'one-time', validFrom: '2025-03-01T10:00:00Z', validUntil: '2025-03-01T11:00:00Z', aliases: ['+4631500'] });
    later.create({ org: 'vgregion', name: 'Next', id: 'next', kind: 'one-time', validFrom: '2025-03-01T10:00:00Z', validUntil: '2025-03-01T13:00:00Z' });
    later.create({ org: 'vgregion', name: 'Perm', id: 'perm' });
    expect(later.removeExpired(new Date('2025-03-01T12:00:00Z'))).toEqual(['done']);
    expect(later.list().map((r) => r.id)).toEqual(['next', 'perm']);
    expect(plan.getAlias('+4631500')).toBeUndefined();
  });
});

describe('PINs', () => {
  it('stores PINs only as scrypt hashes', async () => {
    const r = rooms.create({ org: 'region-skane', name: 'Pinned', hostPin: '123456', guestPin: '1234' });
    expect(r.hostPin).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const raw = JSON.stringify(plan.db.prepare('SELECT * FROM rooms').all());
    expect(raw).not.toContain('123456');
    expect(raw).not.toMatch(/"1234"/);
    // Salted: the same PIN hashes differently each time.
    expect(hashPin('1234')).not.toBe(hashPin('1234'));
    expect(await pinMatches(r.guestPin!, '1234')).toBe(true);
    expect(await pinMatches(r.guestPin!, '12345')).toBe(false);
    expect(await pinMatches('garbage', '1234')).toBe(false);
  });

  it('verifies PINs: host, guest, or nothing', async () => {
    const both = rooms.create({ org: 'region-skane', name: 'Both', hostPin: '9876', guestPin: '1234' });
    expect(await rooms.verifyPin(both, '9876')).toBe('host');
    expect(await rooms.verifyPin(both, '1234')).toBe('guest');
    expect(await rooms.verifyPin(both, '0000')).toBeNull();
    expect(await rooms.verifyPin(both, undefined)).toBeNull();
    expect(await rooms.verifyPin(both, '12a4')).toBeNull();

    const hostOnly = rooms.create({ org: 'region-skane', name: 'Host only', hostPin: '9876' });
    expect(await rooms.verifyPin(hostOnly, undefined)).toBe('guest');
    expect(await rooms.verifyPin(hostOnly, '')).toBe('guest');
    expect(await rooms.verifyPin(hostOnly, '9876')).toBe('host');
    expect(await rooms.verifyPin(hostOnly, '1111')).toBeNull();

    const open = rooms.create({ org: 'region-skane', name: 'Open' });
    expect(await rooms.verifyPin(open, undefined)).toBe('guest');
    expect(await rooms.verifyPin(open, '1234')).toBe('guest');
  });

  it.each(['123', '1234567890123', '12a4', ' 1234', 1234])('refuses the PIN %s', (pin) => {
    expect(() => rooms.create({ org: 'region-skane', name: 'x', hostPin: pin as string })).toThrow(InvalidRoomError);
    expect(() => rooms.create({ org: 'region-skane', name: 'x', guestPin: pin as string })).toThrow(/PIN must be 4-12 digits/);
  });

  it('refuses equal host and guest PINs, also when one is changed later', () => {
    expect(() => rooms.create({ org: 'region-skane', name: 'x', hostPin: '1234', guestPin: '1234' })).toThrow(/must differ/);
    const r = rooms.create({ org: 'region-skane', name: 'x', hostPin: '1234' });
    expect(() => rooms.update(r.id, { guestPin: '1234' })).toThrow(/must differ/);
    expect(rooms.update(r.id, { guestPin: '5678', hostPin: '4321' }).hostPin).not.toBe(r.hostPin);
  });

  it('stores PINs hashed ahead on the thread pool as they are, with the same checks', async () => {
    const host = await HashedPin.of('9876', 'host PIN');
    const guest = await HashedPin.of('1234', 'guest PIN');
    const r = rooms.create({ org: 'region-skane', name: 'Hashed ahead', hostPin: host, guestPin: guest });
    expect(r.hostPin).toBe(host.hash);
    expect(await rooms.verifyPin(r, '9876')).toBe('host');
    expect(await rooms.verifyPin(r, '1234')).toBe('guest');
    expect(JSON.stringify(plan.db.prepare('SELECT * FROM rooms WHERE id = ?').get(r.id))).not.toMatch(/"(9876|1234)"/);
    await expect(HashedPin.of('12a4', 'guest PIN')).rejects.toThrow(/guest PIN must be 4-12 digits/);
    expect(() => rooms.create({ org: 'region-skane', name: 'x', hostPin: host, guestPin: '9876' })).toThrow(/must differ/);
    // Against the room's stored host PIN, and clearing one with null.
    expect(() => rooms.update(r.id, { guestPin: host })).toThrow(/must differ/);
    const changed = rooms.update(r.id, { guestPin: await HashedPin.of('5555') });
    expect(await rooms.verifyPin(changed, '5555')).toBe('guest');
    expect(rooms.update(r.id, { guestPin: null }).guestPin).toBeUndefined();
  });
});

describe('validation', () => {
  const base = { org: 'region-skane', name: 'Room' };
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['empty name', { name: '  ' }, /room name/],
    ['control characters in the name', { name: 'a\u0007b' }, /room name/],
    ['bad id', { id: 'Bad Id' }, /room id "Bad Id" is invalid/],
    ['id ending in a dash', { id: 'room-' }, /room id/],
    ['unknown kind', { kind: 'weekly' }, /permanent or one-time/],
    ['too few participants', { maxParticipants: 1 }, /2-100/],
    ['too many participants', { maxParticipants: 101 }, /2-100/],
    ['fractional participants', { maxParticipants: 2.5 }, /2-100/],
    ['one-time without times', { kind: 'one-time' }, /needs both a start/],
    ['one-time without end', { kind: 'one-time', validFrom: '2025-03-02T10:00:00Z' }, /needs both/],
    ['one-time ending before it starts', { kind: 'one-time', validFrom: '2025-03-02T10:00:00Z', validUntil: '2025-03-02T10:00:00Z' }, /must end after it starts/],
    ['one-time that has ended', { kind: 'one-time', validFrom: '2025-02-01T10:00:00Z', validUntil: '2025-02-01T11:00:00Z' }, /already passed/],
    ['permanent with times', { validFrom: '2025-03-02T10:00:00Z' }, /permanent room has no start/],
    ['time without zone', { kind: 'one-time', validFrom: '2025-03-02T10:00:00', validUntil: '2025-03-02T11:00:00Z' }, /ISO 8601 time with a time zone/],
    ['impossible date', { kind: 'one-time', validFrom: '2025-02-30T10:00:00Z', validUntil: '2025-04-02T11:00:00Z' }, /ISO 8601/],
    ['lobby without host PIN', { lobby: true }, /lobby needs a host PIN/],
    ['non-boolean lock', { locked: 'yes' }, /locked must be true or false/],
    ['http logo', { branding: { logoUrl: 'http://x.se/logo.png' } }, /https:\/\//],
    ['bad colour', { branding: { color: 'red' } }, /#rgb or #rrggbb/],
    ['unknown branding', { branding: { font: 'Comic Sans' } }, /unknown field "font"/],
    ['unknown org', { org: 'nowhere' }, /no organisation named "nowhere"/],
    ['missing org', { org: undefined }, /needs the organisation/],
  ])('refuses %s', (_what, patch, message) => {
    let error: unknown;
    try {
      rooms.create({ ...base, ...patch } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidRoomError);
    expect((error as Error).message).toMatch(message);
    expect(count('rooms')).toBe(0);
  });
});

describe('updating', () => {
  it('changes fields, locks, and clears optional ones with null', () => {
    const r = rooms.create({ org: 'region-skane', name: 'R', hostPin: '1111', guestPin: '2222', lobby: true, branding: { color: '#fff' } });
    const u = rooms.update(r.id, { name: 'Renamed', maxParticipants: 50, branding: null, guestPin: null });
    expect(u).toMatchObject({ name: 'Renamed', maxParticipants: 50, lobby: true, hostPin: r.hostPin });
    expect(u.branding).toBeUndefined();
    expect(u.guestPin).toBeUndefined();
    expect(rooms.get(r.id)).toEqual(u);
    expect(rooms.setLocked(r.id, true).locked).toBe(true);
    expect(rooms.get(r.id)?.locked).toBe(true);
    expect(() => rooms.update(r.id, { hostPin: null })).toThrow(/lobby needs a host PIN/);
    expect(rooms.update(r.id, { hostPin: null, lobby: false }).hostPin).toBeUndefined();
  });

  it('turns a room one-time and back', () => {
    const r = rooms.create({ org: 'region-skane', name: 'R' });
    expect(() => rooms.update(r.id, { kind: 'one-time' })).toThrow(/needs both/);
    const o = rooms.update(r.id, { kind: 'one-time', validFrom: '2025-03-02T10:00:00Z', validUntil: '2025-03-02T11:00:00Z' });
    expect(o.validUntil).toBe('2025-03-02T11:00:00.000Z');
    const p = rooms.update(r.id, { kind: 'permanent' });
    expect(p.validFrom).toBeUndefined();
    expect(rooms.get(r.id)).toEqual(p);
  });

  it('refuses to update a missing room', () => {
    expect(() => rooms.update('nope', { name: 'x' })).toThrow(RoomNotFoundError);
  });

  it('lists by organisation', () => {
    rooms.create({ org: 'region-skane', name: 'B' });
    rooms.create({ org: 'vgregion', name: 'A' });
    rooms.create({ org: 'region-skane', name: 'A' });
    expect(rooms.list().map((r) => `${r.org}/${r.id}`)).toEqual(['region-skane/a-2', 'region-skane/b', 'vgregion/a']);
    expect(rooms.list({ org: 'vgregion' }).map((r) => r.id)).toEqual(['a']);
    expect(rooms.list({ org: 'nobody' })).toEqual([]);
  });
});
