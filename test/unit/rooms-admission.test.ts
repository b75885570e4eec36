import { describe, expect, it } from 'vitest';
import { admit, formatTime, type AdmissionDecision, type AdmissionRequest, type AdmissionRoom } from '../../src/rooms/admission.js';
import { hashPin, pinRole } from '../../src/rooms/pins.js';

const HOST = hashPin('9999');
const GUEST = hashPin('1234');
const NOW = new Date('2025-03-01T12:00:00Z');

const room = (over: Partial<AdmissionRoom> = {}): AdmissionRoom => ({ kind: 'permanent', maxParticipants: 25, lobby: false, locked: false, ...over });
const oneTime = (from: string, until: string, over: Partial<AdmissionRoom> = {}): AdmissionRoom => room({ kind: 'one-time', validFrom: from, validUntil: until, ...over });
/** The request as the room manager makes it: the PIN's role worked out (asynchronously) first. */
const req = async (r: AdmissionRoom, over: Partial<AdmissionRequest> = {}): Promise<AdmissionRequest> => ({
  now: NOW,
  participants: 0,
  hostPresent: false,
  pinRole: await pinRole(r, over.pin === '' ? undefined : over.pin),
  ...over,
});

describe('admission table', () => {
  const cases: Array<[string, AdmissionRoom, Partial<AdmissionRequest>, AdmissionDecision | { ok: false; reason: string; message: RegExp }]> = [
    ['open room admits a guest', room(), {}, { ok: true, role: 'guest', waitInLobby: false }],
    ['open room ignores a PIN', room(), { pin: '5555' }, { ok: true, role: 'guest', waitInLobby: false }],
    ['host PIN makes a host', room({ hostPin: HOST, guestPin: GUEST }), { pin: '9999' }, { ok: true, role: 'host', waitInLobby: false }],
    ['guest PIN makes a guest', room({ hostPin: HOST, guestPin: GUEST }), { pin: '1234' }, { ok: true, role: 'guest', waitInLobby: false }],
    ['host-only room admits guests without PIN', room({ hostPin: HOST }), {}, { ok: true, role: 'guest', waitInLobby: false }],
    ['an empty PIN is no PIN', room({ hostPin: HOST }), { pin: '' }, { ok: true, role: 'guest', waitInLobby: false }],
    ['wrong PIN', room({ guestPin: GUEST }), { pin: '4321' }, { ok: false, reason: 'wrong-pin', message: /The PIN is not right/ }],
    ['wrong PIN in a host-only room', room({ hostPin: HOST }), { pin: '4321' }, { ok: false, reason: 'wrong-pin', message: /PIN is not right/ }],
    ['malformed PIN', room({ guestPin: GUEST }), { pin: '12 34' }, { ok: false, reason: 'wrong-pin', message: /PIN is not right/ }],
    ['missing PIN', room({ guestPin: GUEST }), {}, { ok: false, reason: 'pin-required', message: /^This meeting needs a PIN\.$/ }],
    ['not yet valid', oneTime('2025-03-01T13:00:00.000Z', '2025-03-01T14:00:00.000Z'), {}, { ok: false, reason: 'not-yet-valid', message: /^This meeting starts at 2025-03-01 13:00 UTC\.$/ }],
    ['valid from its first instant', oneTime('2025-03-01T12:00:00.000Z', '2025-03-01T14:00:00.000Z'), {}, { ok: true, role: 'guest', waitInLobby: false }],
    ['expired', oneTime('2025-03-01T10:00:00.000Z', '2025-03-01T11:30:00.000Z'), {}, { ok: false, reason: 'expired', message: /^This meeting ended at 2025-03-01 11:30 UTC\.$/ }],
    ['expired at its end instant', oneTime('2025-03-01T10:00:00.000Z', '2025-03-01T12:00:00.000Z'), {}, { ok: false, reason: 'expired', message: /ended/ }],
    ['validity is checked before the PIN', oneTime('2025-03-01T13:00:00.000Z', '2025-03-01T14:00:00.000Z', { guestPin: GUEST }), { pin: '0000' }, { ok: false, reason: 'not-yet-valid', message: /starts/ }],
    ['full', room({ maxParticipants: 25 }), { participants: 25 }, { ok: false, reason: 'full', message: /^The meeting room is full \(25 participants\)\.$/ }],
    ['one place left', room({ maxParticipants: 3 }), { participants: 2 }, { ok: true, role: 'guest', waitInLobby: false }],
    ['full applies to hosts too', room({ maxParticipants: 2, hostPin: HOST }), { participants: 2, pin: '9999' }, { ok: false, reason: 'full', message: /full \(2 participants\)/ }],
    ['locked refuses guests', room({ locked: true }), {}, { ok: false, reason: 'locked', message: /locked/ }],
    ['locked admits a host', room({ locked: true, hostPin: HOST }), { pin: '9999' }, { ok: true, role: 'host', waitInLobby: false }],
    ['PIN is checked before the lock', room({ locked: true, guestPin: GUEST }), {}, { ok: false, reason: 'pin-required', message: /PIN/ }],
    ['lobby: guest waits without a host', room({ lobby: true, hostPin: HOST }), {}, { ok: true, role: 'guest', waitInLobby: true }],
    ['lobby: guest enters when a host is in', room({ lobby: true, hostPin: HOST }), { hostPresent: true }, { ok: true, role: 'guest', waitInLobby: false }],
    ['lobby: a host never waits', room({ lobby: true, hostPin: HOST }), { pin: '9999' }, { ok: true, role: 'host', waitInLobby: false }],
  ];

  it.each(cases)('%s', async (_name, r, request, expected) => {
    const decision = admit(r, await req(r, request));
    if (expected.ok) expect(decision).toEqual(expected);
    else {
      expect(decision.ok).toBe(false);
      const d = decision as { reason: string; message: string };
      expect(d.reason).toBe(expected.reason);
      expect(d.message).toMatch(expected.message as RegExp);
    }
  });

  it('covers every refusal reason', () => {
    const reasons = new Set(cases.map(([, , , e]) => (e.ok ? undefined : e.reason)).filter(Boolean));
    expect([...reasons].sort()).toEqual(['expired', 'full', 'locked', 'not-yet-valid', 'pin-required', 'wrong-pin']);
  });

  it('accepts the time as milliseconds', async () => {
    const r = oneTime('2025-03-01T13:00:00.000Z', '2025-03-01T14:00:00.000Z');
    expect(admit(r, await req(r, { now: Date.parse('2025-03-01T13:30:00Z') })).ok).toBe(true);
  });

  it('a permanent room has no validity window', async () => {
    expect(admit(room(), await req(room(), { now: new Date('2099-01-01T00:00:00Z') })).ok).toBe(true);
  });

  it('formats times plainly', () => {
    expect(formatTime('2025-03-01T13:00:00.000Z')).toBe('2025-03-01 13:00 UTC');
    expect(formatTime('2025-03-01T13:00:30.000Z')).toBe('2025-03-01 13:00:30 UTC');
    expect(formatTime('garbage')).toBe('garbage');
  });
});
