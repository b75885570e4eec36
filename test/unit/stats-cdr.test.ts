/**
 * Call detail records in the node's SQLite store: every field round-trips, periods select the
 * legs that ran in them, bad input is refused with a clear message, and the trackers write
 * every open leg and meeting on a clean shutdown so a restart finds them all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CdrStore, InvalidStatsInputError, LegTracker, MeetingTracker, RecordConflictError, type LegRecordInput } from '../../src/stats/index.js';
import { openDatabase, type Db } from '../../src/store/database.js';

let db: Db;
let cdr: CdrStore;

beforeEach(() => {
  db = openDatabase(':memory:');
  cdr = new CdrStore(db, { node: 'knude-test' });
});
afterEach(() => db.close());

const full: LegRecordInput = {
  id: 'call-1/a',
  kind: 'video',
  direction: 'inbound',
  start: '2026-11-03T09:00:00Z',
  answer: new Date('2026-11-03T09:00:04.250Z'),
  end: Date.parse('2026-11-03T09:30:00Z'),
  callerAlias: '+46401234',
  callerName: 'Anna Andersson',
  calleeAlias: 'sip:akut@skane.se',
  calleeName: 'Akut Lund',
  callerOrg: 'region-skane',
  calleeOrg: 'region-skane',
  roomId: 'akut-lund',
  mediaKinds: ['audio', 'video'],
  srtpSuite: 'AES_CM_128_HMAC_SHA1_80',
  packetsSent: 90_000,
  packetsReceived: 89_500,
  packetsLost: 120,
  jitterMs: 4.5,
  cause: { code: 200, text: 'BYE', side: 'caller' },
  licenceUnits: 1,
};

function leg(id: string, start: string, end: string, extra: Partial<LegRecordInput> = {}): LegRecordInput {
  return { id, kind: 'audio', direction: 'outbound', start, end, cause: { text: 'BYE', side: 'callee', code: 200 }, licenceUnits: 0.5, ...extra };
}

describe('CdrStore', () => {
  it('stores a leg with every field and reads it back normalised', () => {
    const written = cdr.writeLeg(full);
    expect(written).toEqual({
      ...full,
      node: 'knude-test',
      start: '2026-11-03T09:00:00.000Z',
      answer: '2026-11-03T09:00:04.250Z',
      end: '2026-11-03T09:30:00.000Z',
    });
    expect(cdr.legs({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' })).toEqual([written]);
  });

  it('fills defaults for a minimal unanswered leg: generated id, zero counters, no media', () => {
    const rec = cdr.writeLeg(leg(undefined as unknown as string, '2026-11-03T10:00:00Z', '2026-11-03T10:00:30Z', { id: undefined, cause: { code: 487, text: 'CANCEL', side: 'caller' } }));
    expect(rec.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rec).toMatchObject({ packetsSent: 0, packetsReceived: 0, packetsLost: 0, mediaKinds: [] });
    expect(rec.answer).toBeUndefined();
    expect(cdr.legs({ from: '2026-11-03T00:00:00Z', to: '2026-11-04T00:00:00Z' })[0]).toEqual(rec);
  });

  it('selects the legs begun in a period or still running at its start', () => {
    cdr.writeLegs([
      leg('before', '2026-10-31T22:00:00Z', '2026-10-31T23:59:00Z'),
      leg('ends-at-start', '2026-10-31T23:00:00Z', '2026-11-01T00:00:00Z'),
      leg('crosses-start', '2026-10-31T23:30:00Z', '2026-11-01T00:30:00Z'),
      leg('zero-at-start', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
      leg('inside', '2026-11-15T12:00:00Z', '2026-11-15T13:00:00Z'),
      leg('crosses-end', '2026-11-30T23:30:00Z', '2026-12-01T00:30:00Z'),
      leg('after', '2026-12-01T00:00:00Z', '2026-12-01T01:00:00Z'),
    ]);
    const ids = cdr.legs({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' }).map((l) => l.id);
    expect(ids).toEqual(['crosses-start', 'zero-at-start', 'inside', 'crosses-end']);
  });

  it('refuses malformed legs with a message naming the field, and writes nothing of a failed batch', () => {
    const bad: Array<[Partial<LegRecordInput>, RegExp]> = [
      [{ kind: 'fax' as never }, /leg kind "fax" must be video, audio or browser/],
      [{ direction: 'sideways' as never }, /direction/],
      [{ start: '2026-11-03 09:00' }, /leg start "2026-11-03 09:00" is not a valid time/],
      [{ end: '2026-02-30T10:00:00Z' }, /leg end/],
      [{ end: '2026-11-03T08:00:00Z' }, /before its start/],
      [{ answer: '2026-11-03T11:00:00Z' }, /answer time must lie between/],
      [{ packetsLost: -1 }, /packets lost must be a whole number/],
      [{ jitterMs: Number.NaN }, /jitter/],
      [{ licenceUnits: -2 }, /licence units/],
      [{ cause: { text: 'x', side: 'nobody' as never } }, /disconnect side "nobody"/],
      [{ cause: { text: 'x', side: 'system', code: 42 } }, /SIP status code/],
      [{ mediaKinds: ['audio', 'VIDEO!'] }, /media kinds/],
      [{ id: 'has space' }, /leg id/],
    ];
    for (const [patch, message] of bad) {
      const attempt = () => cdr.writeLegs([leg('ok', '2026-11-03T09:00:00Z', '2026-11-03T10:00:00Z'), { ...leg('bad', '2026-11-03T09:00:00Z', '2026-11-03T10:00:00Z'), ...patch }]);
      expect(attempt).toThrow(InvalidStatsInputError);
      expect(attempt).toThrow(message);
    }
    expect(cdr.legs({ from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' })).toEqual([]);
    expect(() => cdr.legs({ from: 'last week', to: '2026-12-01T00:00:00Z' })).toThrow(/period start "last week"/);
  });

  it('keeps wire text as data: control characters replaced and length bounded, never refused', () => {
    const rec = cdr.writeLeg(leg('odd', '2026-11-03T09:00:00Z', '2026-11-03T10:00:00Z', { callerName: `Eve\r\nX-Injected: 1${'x'.repeat(400)}` }));
    expect(rec.callerName).toMatch(/^Eve\?\?X-Injected: 1x+$/);
    expect(rec.callerName!.length).toBe(256);
  });

  it('refuses a second record with the same id', () => {
    cdr.writeLeg(full);
    expect(() => cdr.writeLeg(full)).toThrow(RecordConflictError);
  });

  it('stores meeting records and checks them', () => {
    const m = cdr.writeMeeting({ roomId: 'akut-lund', org: 'region-skane', opened: '2026-11-03T09:00:00Z', closed: '2026-11-03T10:00:00Z', participants: 5, peakParticipants: 3 });
    expect(cdr.meetings({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' })).toEqual([m]);
    expect(m).toMatchObject({ node: 'knude-test', opened: '2026-11-03T09:00:00.000Z', participants: 5, peakParticipants: 3 });
    expect(() => cdr.writeMeeting({ roomId: 'r', org: 'o', opened: '2026-11-03T09:00:00Z', closed: '2026-11-03T10:00:00Z', participants: 2, peakParticipants: 3 })).toThrow(/cannot exceed/);
    expect(() => cdr.writeMeeting({ roomId: 'r', org: 'o', opened: '2026-11-03T09:00:00Z', closed: '2026-11-03T08:00:00Z', participants: 0, peakParticipants: 0 })).toThrow(/close before/);
  });

  it('purges records that ended before a retention limit', () => {
    cdr.writeLegs([leg('old', '2025-01-01T00:00:00Z', '2025-01-01T01:00:00Z'), leg('new', '2026-11-01T00:00:00Z', '2026-11-01T01:00:00Z')]);
    expect(cdr.purgeBefore('2026-01-01T00:00:00Z')).toEqual({ legs: 1, meetings: 0 });
    expect(cdr.legs({ from: '2020-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' }).map((l) => l.id)).toEqual(['new']);
  });
});

describe('LegTracker', () => {
  it('writes a leg when it ends, with media figures and answer time; a second end does nothing', () => {
    let now = Date.parse('2026-11-03T09:00:00Z');
    const tracker = new LegTracker(cdr, { now: () => new Date(now) });
    const id = tracker.begin({ kind: 'browser', direction: 'inbound', callerName: 'Guest', calleeOrg: 'region-skane', roomId: 'akut-lund', licenceUnits: 1.5 });
    expect(tracker.activeByKind()).toEqual({ video: 0, audio: 0, browser: 1 });
    now += 2_000;
    tracker.answer(id);
    tracker.media(id, { mediaKinds: ['audio', 'video'], srtpSuite: 'SRTP_AEAD_AES_128_GCM', packetsSent: 10, packetsReceived: 9, packetsLost: 1, jitterMs: 3 });
    now += 60_000;
    const rec = tracker.end(id, { text: 'left', side: 'caller' });
    expect(rec).toMatchObject({
      id,
      kind: 'browser',
      start: '2026-11-03T09:00:00.000Z',
      answer: '2026-11-03T09:00:02.000Z',
      end: '2026-11-03T09:01:02.000Z',
      mediaKinds: ['audio', 'video'],
      packetsLost: 1,
      cause: { text: 'left', side: 'caller' },
      licenceUnits: 1.5,
    });
    expect(tracker.end(id, { text: 'timeout', side: 'system' })).toBeUndefined();
    expect(tracker.size).toBe(0);
    expect(cdr.legs({ from: '2026-11-03T00:00:00Z', to: '2026-11-04T00:00:00Z' })).toHaveLength(1);
  });

  it('refuses a bad leg at its start, so its end cannot fail', () => {
    const tracker = new LegTracker(cdr);
    expect(() => tracker.begin({ kind: 'hologram' as never, direction: 'inbound', licenceUnits: 1 })).toThrow(/leg kind/);
    expect(() => tracker.begin({ kind: 'audio', direction: 'inbound', licenceUnits: Number.POSITIVE_INFINITY })).toThrow(/licence units/);
    expect(tracker.size).toBe(0);
  });

  it('on close writes every open leg as ended by shutdown, and a reopened store has them all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'knude-cdr-'));
    try {
      const path = join(dir, 'knude.sqlite');
      const fileDb = openDatabase(path);
      const store = new CdrStore(fileDb, { node: 'knude-a' });
      const tracker = new LegTracker(store, { now: () => new Date('2026-11-03T12:00:00Z') });
      const meetings = new MeetingTracker(store, { now: () => new Date('2026-11-03T12:00:00Z') });
      meetings.roomOpened({ roomId: 'akut-lund', org: 'region-skane', at: '2026-11-03T11:00:00Z' });
      const ids = [0, 1, 2].map((i) => tracker.begin({ kind: 'video', direction: 'inbound', start: `2026-11-03T11:0${i}:00Z`, roomId: 'akut-lund', licenceUnits: 1 }));
      ids.forEach((id, i) => meetings.participantJoined({ roomId: 'akut-lund', participants: i + 1 }));
      tracker.answer(ids[0], '2026-11-03T11:00:01Z');
      tracker.end(ids[2], { code: 200, text: 'BYE', side: 'callee' }, '2026-11-03T11:30:00Z');
      meetings.participantJoined({ roomId: 'akut-lund', participants: 2 }); // one left, another came
      expect(tracker.close()).toBe(2);
      expect(meetings.close()).toBe(1);
      expect(() => tracker.begin({ kind: 'audio', direction: 'inbound', licenceUnits: 1 })).toThrow(/closed/);
      fileDb.close();

      const reopened = openDatabase(path);
      const again = new CdrStore(reopened);
      const legs = again.legs({ from: '2026-11-03T00:00:00Z', to: '2026-11-04T00:00:00Z' });
      expect(legs.map((l) => [l.id, l.end, l.cause.text, l.cause.side])).toEqual([
        [ids[0], '2026-11-03T12:00:00.000Z', 'shutdown', 'system'],
        [ids[1], '2026-11-03T12:00:00.000Z', 'shutdown', 'system'],
        [ids[2], '2026-11-03T11:30:00.000Z', 'BYE', 'callee'],
      ]);
      expect(legs[0].node).toBe('knude-a');
      expect(again.meetings({ from: '2026-11-03T00:00:00Z', to: '2026-11-04T00:00:00Z' })).toMatchObject([
        { roomId: 'akut-lund', org: 'region-skane', opened: '2026-11-03T11:00:00.000Z', closed: '2026-11-03T12:00:00.000Z', participants: 4, peakParticipants: 3 },
      ]);
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a meeting record when the room closes', () => {
    const meetings = new MeetingTracker(cdr);
    meetings.roomOpened({ roomId: 'r1', org: 'o1', at: '2026-11-05T08:00:00Z' });
    meetings.participantJoined({ roomId: 'r1', participants: 1 });
    meetings.participantJoined({ roomId: 'r1', participants: 2 });
    meetings.participantJoined({ roomId: 'unknown-room', participants: 1 });
    const rec = meetings.roomClosed({ roomId: 'r1', at: '2026-11-05T08:45:00Z' });
    expect(rec).toMatchObject({ roomId: 'r1', org: 'o1', participants: 2, peakParticipants: 2, closed: '2026-11-05T08:45:00.000Z' });
    expect(meetings.roomClosed({ roomId: 'r1', at: '2026-11-05T08:46:00Z' })).toBeUndefined();
    expect(meetings.close()).toBe(0);
  });
});
