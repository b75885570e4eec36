/**
 * Exports of call records: RFC 4180 CSV that parses back to the same values, formula cells
 * neutralised, JSON by period, and personal data replaced by keyed pseudonyms unless raw.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CdrStore, csvCell, exportRecords, LEG_CSV_COLUMNS, legsToCsv, loadOrCreateExportKey, pseudonym, pseudonymiseLeg, StatsError, type LegRecord } from '../../src/stats/index.js';
import { openDatabase, type Db } from '../../src/store/database.js';

/** A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`bare quote in unquoted field at ${i}`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else if (i < text.length) throw new Error(`expected , or CRLF at ${i}, found ${JSON.stringify(text[i])}`);
  }
  if (row.length) throw new Error('last record not terminated by CRLF');
  return rows;
}

const KEY = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
let db: Db;
let cdr: CdrStore;
let legs: LegRecord[];

beforeEach(() => {
  db = openDatabase(':memory:');
  cdr = new CdrStore(db, { node: 'knude-1' });
  legs = cdr.writeLegs([
    {
      id: 'a',
      kind: 'video',
      direction: 'inbound',
      start: '2026-11-03T09:00:00Z',
      answer: '2026-11-03T09:00:05Z',
      end: '2026-11-03T09:10:05Z',
      callerAlias: '+46401234',
      callerName: 'Svensson, "Bo"\nläkare',
      calleeAlias: '=HYPERLINK("http://evil.example","x")',
      calleeName: '@SUM(A1:A9)',
      callerOrg: 'region-skane',
      calleeOrg: '-2+3',
      mediaKinds: ['audio', 'video'],
      packetsReceived: 1000,
      packetsLost: 3,
      cause: { code: 200, text: 'BYE, normal', side: 'caller' },
      licenceUnits: 1,
    },
    {
      id: 'b',
      kind: 'audio',
      direction: 'outbound',
      start: '2026-11-04T09:00:00Z',
      end: '2026-11-04T09:00:20Z',
      callerAlias: '+46401234',
      calleeAlias: 'sip:bo@skane.se',
      cause: { code: 486, text: 'Busy Here', side: 'callee' },
      licenceUnits: 0.5,
    },
  ]);
});
afterEach(() => db.close());

describe('CSV', () => {
  it('quotes per RFC 4180 and neutralises cells that a spreadsheet would run as formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+46401234')).toBe("'+46401234");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@cmd')).toBe("'@cmd");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('=A1,"B"')).toBe(`"'=A1,""B"""`);
    expect(csvCell(0)).toBe('0');
    expect(csvCell(undefined)).toBe('');
  });

  it('parses back to the stored values, with formula cells prefixed and nothing else changed', () => {
    const rows = parseCsv(legsToCsv(legs));
    expect(rows[0]).toEqual([...LEG_CSV_COLUMNS]);
    expect(rows).toHaveLength(3);
    const a = Object.fromEntries(rows[0].map((c, i) => [c, rows[1][i]]));
    expect(a).toMatchObject({
      id: 'a',
      start: '2026-11-03T09:00:00.000Z',
      duration_s: '605',
      connected_s: '600',
      caller_alias: "'+46401234",
      caller_name: 'Svensson, "Bo"?läkare', // the newline came off the wire and was cleaned at write
      callee_alias: `'=HYPERLINK("http://evil.example","x")`,
      callee_name: "'@SUM(A1:A9)",
      callee_org: "'-2+3",
      media_kinds: 'audio video',
      packets_lost: '3',
      cause_code: '200',
      cause_text: 'BYE, normal',
      licence_units: '1',
    });
    for (const row of rows.slice(1)) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });
});

describe('pseudonymisation', () => {
  it('is stable under one key, differs between keys and kinds of data, and does not reveal the value', () => {
    const p = pseudonym(KEY, 'alias', '+46401234');
    expect(p).toMatch(/^p_[0-9a-f]{16}$/);
    expect(pseudonym(KEY, 'alias', '+46401234')).toBe(p);
    expect(pseudonym(Buffer.from('another key of 16+ bytes'), 'alias', '+46401234')).not.toBe(p);
    expect(pseudonym(KEY, 'name', '+46401234')).not.toBe(p);
    expect(pseudonym(KEY, 'alias', '+46401235')).not.toBe(p);
    expect(p).not.toContain('401234');
    expect(() => pseudonym(Buffer.alloc(4), 'alias', 'x')).toThrow(StatsError);
  });

  it('replaces aliases and names in legs, keeping everything else and the original untouched', () => {
    const p = pseudonymiseLeg(legs[0], KEY);
    expect(p.callerAlias).toBe(pseudonym(KEY, 'alias', '+46401234'));
    expect(p.callerName).toBe(pseudonym(KEY, 'name', legs[0].callerName!));
    expect(p.calleeAlias).toMatch(/^p_/);
    expect(p.calleeName).toMatch(/^p_/);
    expect({ ...p, callerAlias: 0, callerName: 0, calleeAlias: 0, calleeName: 0 }).toEqual({ ...legs[0], callerAlias: 0, callerName: 0, calleeAlias: 0, calleeName: 0 });
    expect(legs[0].callerAlias).toBe('+46401234');
  });

  it('exports pseudonymised by default: the same caller has the same pseudonym in both legs and no alias or name appears', () => {
    const text = exportRecords(cdr, { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', format: 'csv', key: KEY });
    for (const secret of ['46401234', 'Svensson', 'HYPERLINK', 'SUM(', 'bo@skane']) expect(text).not.toContain(secret);
    const rows = parseCsv(text);
    const col = rows[0].indexOf('caller_alias');
    expect(rows[1][col]).toBe(rows[2][col]);
    expect(rows[1][col]).toMatch(/^p_[0-9a-f]{16}$/);
    expect(() => exportRecords(cdr, { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', format: 'csv' })).toThrow(/export key/);
  });

  it('exports raw values only when asked, and JSON with both kinds of record by period', () => {
    cdr.writeMeeting({ roomId: 'akut-lund', org: 'region-skane', opened: '2026-11-03T09:00:00Z', closed: '2026-11-03T10:00:00Z', participants: 3, peakParticipants: 2 });
    const raw = JSON.parse(exportRecords(cdr, { from: '2026-11-04T00:00:00Z', to: '2026-11-05T00:00:00Z', format: 'json', pseudonymise: false }));
    expect(raw).toMatchObject({ from: '2026-11-04T00:00:00.000Z', to: '2026-11-05T00:00:00.000Z', pseudonymised: false, meetings: [] });
    expect(raw.legs).toEqual([legs[1]]);
    const all = JSON.parse(exportRecords(cdr, { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', format: 'json', key: KEY }));
    expect(all.pseudonymised).toBe(true);
    expect(all.legs.map((l: LegRecord) => l.id)).toEqual(['a', 'b']);
    expect(all.meetings).toHaveLength(1);
    const meetingsCsv = parseCsv(exportRecords(cdr, { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', format: 'csv', records: 'meetings', key: KEY }));
    expect(meetingsCsv[1]).toEqual([expect.any(String), 'knude-1', 'akut-lund', 'region-skane', '2026-11-03T09:00:00.000Z', '2026-11-03T10:00:00.000Z', '3600', '3', '2']);
    expect(() => exportRecords(cdr, { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', format: 'xml' as never })).toThrow(/csv or json/);
  });

  it('keeps the export key in a private file so pseudonyms stay the same from one export to the next', () => {
    const dir = mkdtempSync(join(tmpdir(), 'knude-key-'));
    try {
      const path = join(dir, 'sub', 'stats-export.key');
      const k1 = loadOrCreateExportKey(path);
      expect(k1).toHaveLength(32);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(loadOrCreateExportKey(path).equals(k1)).toBe(true);
      expect(readFileSync(path, 'utf8').trim()).toBe(k1.toString('hex'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
