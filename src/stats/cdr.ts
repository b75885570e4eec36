/**
 * Call detail records: one record per call leg, written when the leg ends, and one meeting
 * record per room session, written when the room closes. Each write is one synchronous SQLite
 * transaction, so a record the caller was told about is on disk; LegTracker and MeetingTracker
 * hold what is still open and write all of it, ended as 'shutdown', when the node closes them,
 * so a clean shutdown loses nothing.
 *
 * Free text that came off the wire (aliases, display names, reason text) is stored cleaned and
 * shortened, never refused: a record must not be lost over a caller's odd display name. What
 * knude itself decides (kind, direction, times, counters, side) is checked and refused when wrong.
 */
import { randomUUID } from 'node:crypto';
import { migrate, type Db } from '../store/database.js';
import { InvalidStatsInputError, printable, RecordConflictError } from './errors.js';
import { statsMigrations } from './migrations.js';
import { toIso, toMs, type TimeInput } from './time.js';

export const LEG_KINDS = ['video', 'audio', 'browser'] as const;
export type LegKind = (typeof LEG_KINDS)[number];
export type LegDirection = 'inbound' | 'outbound';
export type DisconnectSide = 'caller' | 'callee' | 'system';

export interface DisconnectCause {
  /** SIP status code that ended the leg (e.g. 200 for a BYE, 487, 503), when there was one. */
  code?: number;
  /** 'BYE', 'CANCEL', 'session timer expired', 'media timeout', 'shutdown', ... */
  text: string;
  /** Who ended it: the calling side, the called side, or knude itself. */
  side: DisconnectSide;
}

/** One call leg as stored. Times are ISO 8601 UTC. */
export interface LegRecord {
  id: string;
  /** The knude node that carried the leg. */
  node: string;
  kind: LegKind;
  /** Seen from knude: an inbound leg came to knude, an outbound leg knude placed. */
  direction: LegDirection;
  start: string;
  /** When the leg was answered; absent for a leg that never connected. */
  answer?: string;
  end: string;
  callerAlias?: string;
  callerName?: string;
  calleeAlias?: string;
  calleeName?: string;
  callerOrg?: string;
  /** The called organisation, or the room's organisation for a leg into a room. */
  calleeOrg?: string;
  roomId?: string;
  /** 'audio', 'video', 'application' (BFCP, data channels). */
  mediaKinds: string[];
  /** e.g. 'AES_CM_128_HMAC_SHA1_80' (SDES) or 'SRTP_AEAD_AES_128_GCM' (DTLS-SRTP). */
  srtpSuite?: string;
  packetsSent: number;
  packetsReceived: number;
  packetsLost: number;
  jitterMs?: number;
  cause: DisconnectCause;
  /** Licence units the leg held (weights per kind from the capacity configuration). */
  licenceUnits: number;
}

/** A leg to write: times as Date, ISO string or epoch ms; counters default to 0. */
export interface LegRecordInput extends Omit<LegRecord, 'id' | 'node' | 'start' | 'answer' | 'end' | 'mediaKinds' | 'packetsSent' | 'packetsReceived' | 'packetsLost'> {
  id?: string;
  node?: string;
  start: TimeInput;
  answer?: TimeInput;
  end: TimeInput;
  mediaKinds?: string[];
  packetsSent?: number;
  packetsReceived?: number;
  packetsLost?: number;
}

/** One room session: from the first participant's arrival to the room's close. */
export interface MeetingRecord {
  id: string;
  node: string;
  roomId: string;
  /** The room's (creating) organisation. */
  org: string;
  opened: string;
  closed: string;
  /** Participants who joined during the session. */
  participants: number;
  /** Most participants at the same time. */
  peakParticipants: number;
}

export interface MeetingRecordInput extends Omit<MeetingRecord, 'id' | 'node' | 'opened' | 'closed'> {
  id?: string;
  node?: string;
  opened: TimeInput;
  closed: TimeInput;
}

/** What a report needs of a leg: times in epoch ms; `end` undefined while the leg is open. */
export interface LegFigures {
  start: number;
  answer: number | undefined;
  end: number | undefined;
  licenceUnits: number;
  packetsReceived: number;
  packetsLost: number;
}

/** A period [from, to): records that overlap it or begin in it. */
export interface Period {
  from: TimeInput;
  to: TimeInput;
}

interface LegRow {
  id: string;
  node: string;
  kind: LegKind;
  direction: LegDirection;
  start_at: string;
  answer_at: string | null;
  end_at: string;
  caller_alias: string | null;
  caller_name: string | null;
  callee_alias: string | null;
  callee_name: string | null;
  caller_org: string | null;
  callee_org: string | null;
  room_id: string | null;
  media_kinds: string;
  srtp_suite: string | null;
  packets_sent: number;
  packets_received: number;
  packets_lost: number;
  jitter_ms: number | null;
  cause_code: number | null;
  cause_text: string;
  cause_side: DisconnectSide;
  licence_units: number;
}

interface MeetingRow {
  id: string;
  node: string;
  room_id: string;
  org: string;
  opened_at: string;
  closed_at: string;
  participants: number;
  peak_participants: number;
}

const LEG_COLUMNS =
  'id, node, kind, direction, start_at, answer_at, end_at, caller_alias, caller_name, callee_alias, callee_name, caller_org, callee_org, room_id, media_kinds, srtp_suite, packets_sent, packets_received, packets_lost, jitter_ms, cause_code, cause_text, cause_side, licence_units';
const MEETING_COLUMNS = 'id, node, room_id, org, opened_at, closed_at, participants, peak_participants';
const MAX_TEXT = 256;
const MEDIA_KIND_RE = /^[a-z][a-z0-9-]{0,19}$/;

/** Wire text as stored: control characters replaced, at most 256 characters; empty → absent. */
function wireText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const s = String(value).replace(/[\u0000-\u001f\u007f]/g, '?').trim().slice(0, MAX_TEXT);
  return s === '' ? undefined : s;
}

function count(value: unknown, what: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidStatsInputError(`${what} must be a whole number ≥ 0, not "${printable(value)}"`);
  }
  return value;
}

function nonNegative(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidStatsInputError(`${what} must be a number ≥ 0, not "${printable(value)}"`);
  }
  return value;
}

export function checkLegKind(kind: unknown): LegKind {
  if (!LEG_KINDS.includes(kind as LegKind)) throw new InvalidStatsInputError(`leg kind "${printable(kind)}" must be video, audio or browser`);
  return kind as LegKind;
}

function checkDirection(direction: unknown): LegDirection {
  if (direction !== 'inbound' && direction !== 'outbound') throw new InvalidStatsInputError(`leg direction "${printable(direction)}" must be inbound or outbound`);
  return direction;
}

export function checkCause(cause: unknown): DisconnectCause {
  const c = cause as Partial<DisconnectCause> | undefined;
  if (!c || typeof c !== 'object') throw new InvalidStatsInputError('a disconnect cause {text, side, code?} is required');
  if (c.side !== 'caller' && c.side !== 'callee' && c.side !== 'system') {
    throw new InvalidStatsInputError(`disconnect side "${printable(c.side)}" must be caller, callee or system`);
  }
  if (c.code !== undefined && (!Number.isInteger(c.code) || c.code < 100 || c.code > 699)) {
    throw new InvalidStatsInputError(`disconnect code "${printable(c.code)}" must be a SIP status code 100-699`);
  }
  return { ...(c.code !== undefined ? { code: c.code } : {}), text: wireText(c.text) ?? 'unknown', side: c.side };
}

export function checkMediaKinds(kinds: unknown): string[] {
  if (kinds === undefined) return [];
  if (!Array.isArray(kinds) || kinds.length > 8 || kinds.some((k) => typeof k !== 'string' || !MEDIA_KIND_RE.test(k))) {
    throw new InvalidStatsInputError(`media kinds must be a short list of words like ["audio", "video"], not ${printable(JSON.stringify(kinds))}`);
  }
  return [...new Set(kinds as string[])];
}

function checkId(id: unknown, what: string): string {
  if (id === undefined) return randomUUID();
  if (typeof id !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(id)) throw new InvalidStatsInputError(`${what} id "${printable(id)}" must be 1-200 visible ASCII characters`);
  return id;
}

/** A leg record validated and normalised, ready to store. */
export function normaliseLeg(rec: LegRecordInput, defaultNode: string): LegRecord {
  const start = toMs(rec.start, 'leg start');
  const end = toMs(rec.end, 'leg end');
  const answer = rec.answer === undefined ? undefined : toMs(rec.answer, 'leg answer');
  if (end < start) throw new InvalidStatsInputError(`leg end ${new Date(end).toISOString()} is before its start ${new Date(start).toISOString()}`);
  if (answer !== undefined && (answer < start || answer > end)) throw new InvalidStatsInputError('leg answer time must lie between its start and end');
  const jitter = rec.jitterMs === undefined ? undefined : nonNegative(rec.jitterMs, 'jitter (ms)');
  const out: LegRecord = {
    id: checkId(rec.id, 'leg'),
    node: wireText(rec.node) ?? defaultNode,
    kind: checkLegKind(rec.kind),
    direction: checkDirection(rec.direction),
    start: new Date(start).toISOString(),
    ...(answer !== undefined ? { answer: new Date(answer).toISOString() } : {}),
    end: new Date(end).toISOString(),
    mediaKinds: checkMediaKinds(rec.mediaKinds),
    packetsSent: count(rec.packetsSent, 'packets sent'),
    packetsReceived: count(rec.packetsReceived, 'packets received'),
    packetsLost: count(rec.packetsLost, 'packets lost'),
    ...(jitter !== undefined ? { jitterMs: jitter } : {}),
    cause: checkCause(rec.cause),
    licenceUnits: nonNegative(rec.licenceUnits, 'licence units'),
  };
  for (const key of ['callerAlias', 'callerName', 'calleeAlias', 'calleeName', 'callerOrg', 'calleeOrg', 'roomId', 'srtpSuite'] as const) {
    const v = wireText(rec[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function legToRow(l: LegRecord): LegRow {
  return {
    id: l.id,
    node: l.node,
    kind: l.kind,
    direction: l.direction,
    start_at: l.start,
    answer_at: l.answer ?? null,
    end_at: l.end,
    caller_alias: l.callerAlias ?? null,
    caller_name: l.callerName ?? null,
    callee_alias: l.calleeAlias ?? null,
    callee_name: l.calleeName ?? null,
    caller_org: l.callerOrg ?? null,
    callee_org: l.calleeOrg ?? null,
    room_id: l.roomId ?? null,
    media_kinds: l.mediaKinds.join(' '),
    srtp_suite: l.srtpSuite ?? null,
    packets_sent: l.packetsSent,
    packets_received: l.packetsReceived,
    packets_lost: l.packetsLost,
    jitter_ms: l.jitterMs ?? null,
    cause_code: l.cause.code ?? null,
    cause_text: l.cause.text,
    cause_side: l.cause.side,
    licence_units: l.licenceUnits,
  };
}

function legFromRow(r: LegRow): LegRecord {
  // Plain assignments, not spreads: a month's report or export reads 200,000 of these.
  const l: LegRecord = {
    id: r.id,
    node: r.node,
    kind: r.kind,
    direction: r.direction,
    start: r.start_at,
    end: r.end_at,
    mediaKinds: r.media_kinds === '' ? [] : r.media_kinds.split(' '),
    packetsSent: r.packets_sent,
    packetsReceived: r.packets_received,
    packetsLost: r.packets_lost,
    cause: r.cause_code !== null ? { code: r.cause_code, text: r.cause_text, side: r.cause_side } : { text: r.cause_text, side: r.cause_side },
    licenceUnits: r.licence_units,
  };
  if (r.answer_at !== null) l.answer = r.answer_at;
  if (r.caller_alias !== null) l.callerAlias = r.caller_alias;
  if (r.caller_name !== null) l.callerName = r.caller_name;
  if (r.callee_alias !== null) l.calleeAlias = r.callee_alias;
  if (r.callee_name !== null) l.calleeName = r.callee_name;
  if (r.caller_org !== null) l.callerOrg = r.caller_org;
  if (r.callee_org !== null) l.calleeOrg = r.callee_org;
  if (r.room_id !== null) l.roomId = r.room_id;
  if (r.srtp_suite !== null) l.srtpSuite = r.srtp_suite;
  if (r.jitter_ms !== null) l.jitterMs = r.jitter_ms;
  return l;
}

export function normaliseMeeting(rec: MeetingRecordInput, defaultNode: string): MeetingRecord {
  const opened = toMs(rec.opened, 'meeting opened');
  const closed = toMs(rec.closed, 'meeting closed');
  if (closed < opened) throw new InvalidStatsInputError('a meeting cannot close before it opened');
  const participants = count(rec.participants, 'participants');
  const peak = count(rec.peakParticipants, 'peak participants');
  if (peak > participants) throw new InvalidStatsInputError(`peak participants (${peak}) cannot exceed the participants who joined (${participants})`);
  const roomId = wireText(rec.roomId);
  const org = wireText(rec.org);
  if (!roomId || !org) throw new InvalidStatsInputError('a meeting record needs its room id and organisation');
  return {
    id: checkId(rec.id, 'meeting'),
    node: wireText(rec.node) ?? defaultNode,
    roomId,
    org,
    opened: new Date(opened).toISOString(),
    closed: new Date(closed).toISOString(),
    participants,
    peakParticipants: peak,
  };
}

function meetingFromRow(r: MeetingRow): MeetingRecord {
  return {
    id: r.id,
    node: r.node,
    roomId: r.room_id,
    org: r.org,
    opened: r.opened_at,
    closed: r.closed_at,
    participants: r.participants,
    peakParticipants: r.peak_participants,
  };
}

function period(p: Period): { from: string; to: string } {
  const from = toIso(p.from, 'period start');
  const to = toIso(p.to, 'period end');
  if (to < from) throw new InvalidStatsInputError(`period end ${to} is before its start ${from}`);
  return { from, to };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** The node's call and meeting records in its SQLite store. */
export class CdrStore {
  private readonly stmts: ReturnType<CdrStore['prepare']>;
  readonly node: string;

  constructor(
    readonly db: Db,
    opts: { node?: string } = {},
  ) {
    this.node = opts.node ?? 'knude';
    migrate(db, statsMigrations);
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    const legParams = LEG_COLUMNS.split(', ').map((c) => `@${c}`).join(', ');
    return {
      insertLeg: db.prepare(`INSERT INTO cdr_legs (${LEG_COLUMNS}) VALUES (${legParams})`),
      insertMeeting: db.prepare(
        `INSERT INTO cdr_meetings (${MEETING_COLUMNS}) VALUES (@id, @node, @room_id, @org, @opened_at, @closed_at, @participants, @peak_participants)`,
      ),
      // begun in the period, or begun before it and still running at its start
      legs: db.prepare(
        `SELECT ${LEG_COLUMNS} FROM cdr_legs
         WHERE (start_at >= @from AND start_at < @to) OR (start_at < @from AND end_at > @from)
         ORDER BY start_at, id`,
      ),
      figures: db
        .prepare(
          `SELECT start_at, answer_at, end_at, licence_units, packets_received, packets_lost FROM cdr_legs
           WHERE (start_at >= @from AND start_at < @to) OR (start_at < @from AND end_at > @from)`,
        )
        .raw(),
      meetings: db.prepare(
        `SELECT ${MEETING_COLUMNS} FROM cdr_meetings
         WHERE (opened_at >= @from AND opened_at < @to) OR (opened_at < @from AND closed_at > @from)
         ORDER BY opened_at, id`,
      ),
      purgeLegs: db.prepare('DELETE FROM cdr_legs WHERE end_at < ?'),
      purgeMeetings: db.prepare('DELETE FROM cdr_meetings WHERE closed_at < ?'),
    };
  }

  /** Stores an ended leg; refuses a second record with the same id. */
  writeLeg(rec: LegRecordInput): LegRecord {
    return this.writeLegs([rec])[0];
  }

  /** Stores several ended legs in one transaction: all of them or none. */
  writeLegs(recs: readonly LegRecordInput[]): LegRecord[] {
    return this.insertAll(recs.map((r) => normaliseLeg(r, this.node)), (l) => this.stmts.insertLeg.run(legToRow(l)), 'call record');
  }

  writeMeeting(rec: MeetingRecordInput): MeetingRecord {
    return this.writeMeetings([rec])[0];
  }

  writeMeetings(recs: readonly MeetingRecordInput[]): MeetingRecord[] {
    return this.insertAll(
      recs.map((r) => normaliseMeeting(r, this.node)),
      (m) =>
        this.stmts.insertMeeting.run({
          id: m.id,
          node: m.node,
          room_id: m.roomId,
          org: m.org,
          opened_at: m.opened,
          closed_at: m.closed,
          participants: m.participants,
          peak_participants: m.peakParticipants,
        }),
      'meeting record',
    );
  }

  /** Inserts records in one transaction, all or none; a record id that exists already is a RecordConflictError. */
  private insertAll<T extends { id: string }>(records: T[], insert: (r: T) => unknown, what: string): T[] {
    try {
      this.db.transaction(() => {
        for (const r of records) insert(r);
      })();
    } catch (err) {
      if (isUniqueViolation(err)) throw new RecordConflictError(`a ${what} with one of the ids ${records.map((r) => r.id).join(', ').slice(0, 200)} exists already`);
      throw err;
    }
    return records;
  }

  /** Legs that began in [from, to) or were still running at `from`, by start time. */
  legs(p: Period): LegRecord[] {
    return (this.stmts.legs.all(period(p)) as LegRow[]).map(legFromRow);
  }

  /** Of the same legs as legs(), only what a report needs (stored legs have ended). Unordered. */
  legFigures(p: Period): LegFigures[] {
    return (this.stmts.figures.all(period(p)) as Array<[string, string | null, string, number, number, number]>).map(([start, answer, end, units, received, lost]) => ({
      start: Date.parse(start),
      answer: answer === null ? undefined : Date.parse(answer),
      end: Date.parse(end),
      licenceUnits: units,
      packetsReceived: received,
      packetsLost: lost,
    }));
  }

  /** Meetings that opened in [from, to) or were still open at `from`, by opening time. */
  meetings(p: Period): MeetingRecord[] {
    return (this.stmts.meetings.all(period(p)) as MeetingRow[]).map(meetingFromRow);
  }

  /** Retention: deletes records that ended before `before`; returns how many. */
  purgeBefore(before: TimeInput): { legs: number; meetings: number } {
    const t = toIso(before, 'retention limit');
    return this.db.transaction(() => ({
      legs: this.stmts.purgeLegs.run(t).changes,
      meetings: this.stmts.purgeMeetings.run(t).changes,
    }))();
  }
}

/** What is known about a leg when it starts. */
export interface LegStart {
  id?: string;
  kind: LegKind;
  direction: LegDirection;
  /** Default: now. */
  start?: TimeInput;
  callerAlias?: string;
  callerName?: string;
  calleeAlias?: string;
  calleeName?: string;
  callerOrg?: string;
  calleeOrg?: string;
  roomId?: string;
  mediaKinds?: string[];
  srtpSuite?: string;
  licenceUnits: number;
}

/** Media figures of a leg so far (totals, not increments). */
export interface LegMediaUpdate {
  mediaKinds?: string[];
  srtpSuite?: string;
  packetsSent?: number;
  packetsReceived?: number;
  packetsLost?: number;
  jitterMs?: number;
}

/** An open leg as the tracker holds it: a record without an end. */
export type OpenLeg = Omit<LegRecord, 'end' | 'cause'>;

/**
 * The legs in progress on this node. end() writes a leg's record at once; close() writes every
 * leg still open, ended now with cause 'shutdown' by the system, in one transaction. Ending a
 * leg that is not open (already ended by another path: BYE racing a timeout) does nothing, so
 * every end path may call end() without bookkeeping of its own.
 */
export class LegTracker {
  private readonly open = new Map<string, OpenLeg>();
  private readonly now: () => Date;
  private closed = false;

  constructor(
    private readonly store: CdrStore,
    opts: { now?: () => Date } = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Starts tracking a leg; returns its id. Refuses bad input now, so its end cannot fail. */
  begin(leg: LegStart): string {
    if (this.closed) throw new InvalidStatsInputError('the call record tracker is closed (the node is shutting down)');
    const start = leg.start ?? this.now();
    // Validates every field the final record will carry, with a provisional end.
    const rec = normaliseLeg({ ...leg, start, end: start, cause: { text: 'open', side: 'system' } }, this.store.node);
    if (this.open.has(rec.id)) throw new RecordConflictError(`leg ${rec.id} is open already`);
    const { end: _end, cause: _cause, ...open } = rec;
    this.open.set(rec.id, open);
    return rec.id;
  }

  /** The leg was answered (first 2xx, or a browser's media flowing). */
  answer(id: string, at: TimeInput = this.now()): void {
    const leg = this.open.get(id);
    if (leg && leg.answer === undefined) leg.answer = new Date(Math.max(toMs(at, 'answer time'), Date.parse(leg.start))).toISOString();
  }

  /** Latest media figures of an open leg. */
  media(id: string, update: LegMediaUpdate): void {
    const leg = this.open.get(id);
    if (!leg) return;
    if (update.mediaKinds !== undefined) leg.mediaKinds = checkMediaKinds(update.mediaKinds);
    const srtp = wireText(update.srtpSuite);
    if (srtp !== undefined) leg.srtpSuite = srtp;
    if (update.packetsSent !== undefined) leg.packetsSent = count(update.packetsSent, 'packets sent');
    if (update.packetsReceived !== undefined) leg.packetsReceived = count(update.packetsReceived, 'packets received');
    if (update.packetsLost !== undefined) leg.packetsLost = count(update.packetsLost, 'packets lost');
    if (update.jitterMs !== undefined) leg.jitterMs = nonNegative(update.jitterMs, 'jitter (ms)');
  }

  /** Ends an open leg and writes its record; undefined when it was not open. */
  end(id: string, cause: DisconnectCause, at: TimeInput = this.now()): LegRecord | undefined {
    const checked = checkCause(cause);
    const leg = this.open.get(id);
    if (!leg) return undefined;
    const rec = this.store.writeLeg(this.finish(leg, checked, toMs(at, 'end time')));
    this.open.delete(id);
    return rec;
  }

  /** A leg's record as it would be written now; its end can't precede its start or answer. */
  private finish(leg: OpenLeg, cause: DisconnectCause, at: number): LegRecordInput {
    const floor = Math.max(Date.parse(leg.start), leg.answer ? Date.parse(leg.answer) : 0);
    return { ...leg, end: Math.max(at, floor), cause };
  }

  /** Open legs, oldest first (for live views, metrics and reports of the running month). */
  openLegs(): OpenLeg[] {
    return [...this.open.values()].map((l) => ({ ...l, mediaKinds: [...l.mediaKinds] }));
  }

  get size(): number {
    return this.open.size;
  }

  /** Open legs per kind, for the active-legs gauge. */
  activeByKind(): Record<LegKind, number> {
    const out: Record<LegKind, number> = { video: 0, audio: 0, browser: 0 };
    for (const l of this.open.values()) out[l.kind]++;
    return out;
  }

  /**
   * Ends every open leg with cause 'shutdown' (side system) and writes them in one
   * transaction; further begin() calls are refused. Returns how many were written.
   */
  close(at: TimeInput = this.now()): number {
    this.closed = true;
    if (this.open.size === 0) return 0;
    const t = toMs(at, 'shutdown time');
    const cause: DisconnectCause = { text: 'shutdown', side: 'system' };
    const written = this.store.writeLegs([...this.open.values()].map((l) => this.finish(l, cause, t)));
    this.open.clear();
    return written.length;
  }
}

/** The room-manager events a meeting record is made of (RoomManager's shapes fit). */
export interface RoomOpened {
  roomId: string;
  org: string;
  at: string;
}
export interface ParticipantChange {
  roomId: string;
  /** Participants in the room after the change. */
  participants: number;
}
export interface RoomClosed {
  roomId: string;
  at: string;
}

/**
 * Room sessions in progress. Fed by the room manager's events; writes a meeting record when a
 * room closes, and every open session (closed now) on close().
 */
export class MeetingTracker {
  private readonly open = new Map<string, { org: string; opened: string; participants: number; peak: number }>();
  private readonly now: () => Date;

  constructor(
    private readonly store: CdrStore,
    opts: { now?: () => Date } = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  roomOpened(e: RoomOpened): void {
    if (!this.open.has(e.roomId)) this.open.set(e.roomId, { org: e.org, opened: toIso(e.at, 'room opened'), participants: 0, peak: 0 });
  }

  participantJoined(e: ParticipantChange): void {
    const s = this.open.get(e.roomId);
    if (!s) return;
    s.participants++;
    s.peak = Math.max(s.peak, e.participants, 1);
  }

  roomClosed(e: RoomClosed): MeetingRecord | undefined {
    const s = this.open.get(e.roomId);
    if (!s) return undefined;
    const rec = this.store.writeMeeting(this.record(e.roomId, s, toMs(e.at, 'room closed')));
    this.open.delete(e.roomId);
    return rec;
  }

  private record(roomId: string, s: { org: string; opened: string; participants: number; peak: number }, at: number): MeetingRecordInput {
    return {
      roomId,
      org: s.org,
      opened: s.opened,
      closed: Math.max(at, Date.parse(s.opened)),
      participants: s.participants,
      peakParticipants: Math.min(s.peak, s.participants),
    };
  }

  /** Writes every open session as closed at `at`; returns how many. */
  close(at: TimeInput = this.now()): number {
    if (this.open.size === 0) return 0;
    const t = toMs(at, 'shutdown time');
    const written = this.store.writeMeetings([...this.open].map(([roomId, s]) => this.record(roomId, s, t)));
    this.open.clear();
    return written.length;
  }
}
