/**
 * Call and meeting records exported by period as CSV (RFC 4180) or JSON. Personal data
 * (aliases, URIs and display names of the people calling) is pseudonymised by default: each
 * value is replaced by a keyed HMAC-SHA256 pseudonym, 'p_' and 16 hex digits. The same value
 * gives the same pseudonym under the same export key, so an analyst can still count repeat
 * callers across exports, but without the key the pseudonym cannot be turned back into the
 * alias, nor checked against a guessed one. Raw values only when an operator asks
 * ({ pseudonymise: false }).
 *
 * CSV cells starting with = + - @ (or tab / carriage return) get a leading ' so a spreadsheet
 * shows them as text instead of running them as a formula (OWASP "CSV injection").
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CdrStore, LegRecord, MeetingRecord, Period } from './cdr.js';
import { InvalidStatsInputError, StatsError } from './errors.js';
import { toIso } from './time.js';

export type ExportFormat = 'csv' | 'json';
export type ExportRecords = 'legs' | 'meetings';

export interface PseudonymOptions {
  /** Default true. */
  pseudonymise?: boolean;
  /** The export key (at least 16 bytes); required when pseudonymising. */
  key?: Buffer | string;
}

const MIN_KEY_BYTES = 16;

function keyBytes(key: Buffer | string | undefined): Buffer {
  const k = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (!k || k.length < MIN_KEY_BYTES) {
    throw new StatsError(`pseudonymising needs an export key of at least ${MIN_KEY_BYTES} bytes`);
  }
  return k;
}

/**
 * The pseudonym of one value. `domain` keeps kinds of data apart ('alias', 'name'): the same
 * text as an alias and as a display name gives two unrelated pseudonyms.
 */
export function pseudonym(key: Buffer | string, domain: string, value: string): string {
  return `p_${createHmac('sha256', keyBytes(key)).update(`${domain}\u0000${value}`).digest('hex').slice(0, 16)}`;
}

const ALIAS_FIELDS = ['callerAlias', 'calleeAlias'] as const;
const NAME_FIELDS = ['callerName', 'calleeName'] as const;

/** A leg with its personal data replaced by pseudonyms (a copy; the argument is unchanged). */
export function pseudonymiseLeg(leg: LegRecord, key: Buffer | string): LegRecord {
  const k = keyBytes(key);
  const out: LegRecord = { ...leg, cause: { ...leg.cause }, mediaKinds: [...leg.mediaKinds] };
  for (const f of ALIAS_FIELDS) if (out[f] !== undefined) out[f] = pseudonym(k, 'alias', out[f]!);
  for (const f of NAME_FIELDS) if (out[f] !== undefined) out[f] = pseudonym(k, 'name', out[f]!);
  return out;
}

/** One CSV cell: formula characters neutralised, quoted when it holds , " CR or LF. */
export function csvCell(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let s = value;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: readonly string[], rows: Array<Array<string | number | undefined>>): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

export const LEG_CSV_COLUMNS = [
  'id', 'node', 'kind', 'direction', 'start', 'answer', 'end', 'duration_s', 'connected_s',
  'caller_alias', 'caller_name', 'callee_alias', 'callee_name', 'caller_org', 'callee_org', 'room_id',
  'media_kinds', 'srtp_suite', 'packets_sent', 'packets_received', 'packets_lost', 'jitter_ms',
  'cause_code', 'cause_text', 'cause_side', 'licence_units',
] as const;

export const MEETING_CSV_COLUMNS = ['id', 'node', 'room_id', 'org', 'opened', 'closed', 'duration_s', 'participants', 'peak_participants'] as const;

function seconds(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 1000);
}

export function legsToCsv(legs: readonly LegRecord[]): string {
  return csv(
    LEG_CSV_COLUMNS,
    legs.map((l) => [
      l.id, l.node, l.kind, l.direction, l.start, l.answer, l.end, seconds(l.start, l.end), l.answer ? seconds(l.answer, l.end) : 0,
      l.callerAlias, l.callerName, l.calleeAlias, l.calleeName, l.callerOrg, l.calleeOrg, l.roomId,
      l.mediaKinds.join(' '), l.srtpSuite, l.packetsSent, l.packetsReceived, l.packetsLost, l.jitterMs,
      l.cause.code, l.cause.text, l.cause.side, l.licenceUnits,
    ]),
  );
}

export function meetingsToCsv(meetings: readonly MeetingRecord[]): string {
  return csv(
    MEETING_CSV_COLUMNS,
    meetings.map((m) => [m.id, m.node, m.roomId, m.org, m.opened, m.closed, seconds(m.opened, m.closed), m.participants, m.peakParticipants]),
  );
}

export interface ExportRequest extends Period, PseudonymOptions {
  format: ExportFormat;
  /** CSV holds one kind of record; JSON holds both unless this is given. */
  records?: ExportRecords;
}

/**
 * Records of [from, to) (begun in it or still running at its start) as CSV or JSON text.
 * JSON: { from, to, pseudonymised, legs?, meetings? }.
 */
export function exportRecords(store: CdrStore, req: ExportRequest): string {
  if (req.format !== 'csv' && req.format !== 'json') throw new InvalidStatsInputError(`export format "${String(req.format)}" must be csv or json`);
  if (req.records !== undefined && req.records !== 'legs' && req.records !== 'meetings') {
    throw new InvalidStatsInputError(`records "${String(req.records)}" must be legs or meetings`);
  }
  const pseudonymise = req.pseudonymise ?? true;
  const key = pseudonymise ? keyBytes(req.key) : undefined;
  const from = toIso(req.from, 'export start');
  const to = toIso(req.to, 'export end');
  const want = (r: ExportRecords) => (req.records ?? (req.format === 'csv' ? 'legs' : r)) === r;
  const legs = want('legs') ? store.legs({ from, to }).map((l) => (key ? pseudonymiseLeg(l, key) : l)) : undefined;
  const meetings = want('meetings') ? store.meetings({ from, to }) : undefined;
  if (req.format === 'csv') return legs ? legsToCsv(legs) : meetingsToCsv(meetings!);
  return `${JSON.stringify({ from, to, pseudonymised: pseudonymise, ...(legs ? { legs } : {}), ...(meetings ? { meetings } : {}) }, null, 2)}\n`;
}

/**
 * The node's export key: read from `path`, or made (32 random bytes, mode 0600) on first use.
 * Keeping it makes pseudonyms stable from one export to the next; deleting it starts afresh.
 */
export function loadOrCreateExportKey(path: string): Buffer {
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{32,}$/i.test(hex)) throw new StatsError(`the export key in ${path} is not hex of at least ${MIN_KEY_BYTES} bytes; delete it to make a new one`);
    return Buffer.from(hex, 'hex');
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}
