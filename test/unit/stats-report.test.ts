/**
 * The monthly KPI report computed from a fixed set of records whose figures were worked out by
 * hand (in the comments), with legs crossing midnight and both month borders, a zero-length
 * leg, an unanswered leg and a leg still open; uptime with outages, overlapping outages,
 * a service window and silent nodes; and the SVG charts checked as XML and for their shape.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AvailabilityStore,
  CdrStore,
  dayOf,
  InvalidStatsInputError,
  monthlyReport,
  parseMonth,
  renderKpiTable,
  sampleAvailability,
  StatsError,
  type LegRecordInput,
  type OpenLeg,
} from '../../src/stats/index.js';
import { openDatabase, type Db } from '../../src/store/database.js';

/**
 * A strict check of the XML the charts are made of: one root, every tag closed in order,
 * attribute values quoted, no bare '&' or '<' in text. Returns the elements in document order.
 */
function parseXml(xml: string): Array<{ name: string; attrs: Record<string, string>; text: string }> {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '');
  const stack: string[] = [];
  const elements: Array<{ name: string; attrs: Record<string, string>; text: string }> = [];
  const open: number[] = [];
  let i = 0;
  let roots = 0;
  while (i < body.length) {
    if (body[i] !== '<') {
      const end = body.indexOf('<', i);
      const text = body.slice(i, end === -1 ? body.length : end);
      if (/&(?!(lt|gt|amp|quot|apos|#\d+);)/.test(text)) throw new Error(`bare & in text ${JSON.stringify(text)}`);
      if (stack.length === 0 && text.trim() !== '') throw new Error('text outside the root element');
      for (const idx of open) elements[idx].text += text;
      i = end === -1 ? body.length : end;
      continue;
    }
    const close = body.indexOf('>', i);
    if (close === -1) throw new Error('unterminated tag');
    const tag = body.slice(i + 1, close);
    i = close + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
      open.pop();
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*\/?$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag}>`);
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      if (/&(?!(lt|gt|amp|quot|apos|#\d+);)/.test(a[2])) throw new Error(`bare & in attribute ${a[1]}`);
      attrs[a[1]] = a[2];
    }
    if (stack.length === 0) roots++;
    elements.push({ name: m[1], attrs, text: '' });
    if (!selfClosing) {
      stack.push(m[1]);
      open.push(elements.length - 1);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return elements;
}

let db: Db;
let cdr: CdrStore;

function leg(id: string, kind: LegRecordInput['kind'], start: string, answer: string | undefined, end: string, units: number, received = 0, lost = 0): LegRecordInput {
  return {
    id,
    kind,
    direction: 'inbound',
    start,
    ...(answer ? { answer } : {}),
    end,
    packetsReceived: received,
    packetsLost: lost,
    cause: { code: 200, text: 'BYE', side: 'caller' },
    licenceUnits: units,
  };
}

const NOW = new Date('2026-12-01T00:30:00Z');
const OPEN: OpenLeg = {
  id: 'open',
  node: 'knude-1',
  kind: 'audio',
  direction: 'inbound',
  start: '2026-11-30T23:30:00.000Z',
  answer: '2026-11-30T23:30:00.000Z',
  mediaKinds: ['audio'],
  packetsSent: 0,
  packetsReceived: 0,
  packetsLost: 0,
  licenceUnits: 0.5,
};

beforeEach(() => {
  db = openDatabase(':memory:');
  cdr = new CdrStore(db, { node: 'knude-1' });
  cdr.writeLegs([
    // began in October: 20 minutes in November, loss 0.5 % (good)
    leg('L1', 'video', '2026-10-31T23:50:00Z', '2026-10-31T23:50:00Z', '2026-11-01T00:20:00Z', 1, 995, 5),
    // 60 minutes, loss exactly 1 % (not under 1 %: poor)
    leg('L2', 'video', '2026-11-01T00:10:00Z', '2026-11-01T00:10:00Z', '2026-11-01T01:10:00Z', 1, 990, 10),
    // 30 minutes, no packets measured (left out of quality)
    leg('L3', 'audio', '2026-11-01T00:15:00Z', '2026-11-01T00:16:00Z', '2026-11-01T00:46:00Z', 0.5),
    // crosses midnight: 30 + 30 minutes, no loss
    leg('L4', 'browser', '2026-11-01T23:30:00Z', '2026-11-01T23:30:00Z', '2026-11-02T00:30:00Z', 2, 5000, 0),
    // rang 30 s, never answered: a port and a licence while ringing, no minutes
    leg('L5', 'video', '2026-11-02T10:00:00Z', undefined, '2026-11-02T10:00:30Z', 1),
    // zero length, inside L5
    leg('L6', 'video', '2026-11-02T10:00:10Z', undefined, '2026-11-02T10:00:10Z', 1),
    // crosses into December: 60 minutes in November, no loss
    leg('L7', 'video', '2026-11-30T23:00:00Z', '2026-11-30T23:00:00Z', '2026-12-01T01:00:00Z', 1, 100, 0),
    // December, outside the report
    leg('L8', 'video', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z', '2026-12-01T00:10:00Z', 1, 100, 50),
  ]);
  cdr.writeMeetings([
    { roomId: 'r', org: 'o', opened: '2026-10-31T23:50:00Z', closed: '2026-11-01T00:30:00Z', participants: 2, peakParticipants: 2 },
    { roomId: 'r', org: 'o', opened: '2026-11-01T00:10:00Z', closed: '2026-11-01T01:10:00Z', participants: 3, peakParticipants: 3 },
    { roomId: 's', org: 'o', opened: '2026-11-15T09:00:00Z', closed: '2026-11-15T10:00:00Z', participants: 4, peakParticipants: 2 },
    { roomId: 's', org: 'o', opened: '2026-12-01T09:00:00Z', closed: '2026-12-01T10:00:00Z', participants: 4, peakParticipants: 2 },
  ]);
});
afterEach(() => db.close());

describe('monthly report', () => {
  it('gives the hand-computed KPIs', () => {
    const smsCalls: Array<[string, string]> = [];
    const r = monthlyReport({
      month: '2026-11',
      cdr,
      openLegs: [OPEN],
      now: NOW,
      smsSentCount: (from, to) => {
        smsCalls.push([from.toISOString(), to.toISOString()]);
        return 17;
      },
    });
    expect(smsCalls).toEqual([['2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z']]);
    expect(r.kpis).toEqual({
      uptimeInfrastructurePct: null,
      uptimeApiPct: null,
      meetings: 2, // opened in November
      calls: 7, // L2-L7 and the open leg
      minutes: 260, // 20 + 60 + 30 + 60 + 60 + 30 (open leg until the month's end)
      smsSent: 17,
      videoQualityPct: 70, // good 20 + 60 + 60 of measured 20 + 60 + 60 + 60
      qualityMeasuredMinutes: 200,
      licencePeak: 2.5, // 00:15 on the 1st: L1 1 + L2 1 + L3 0.5
      licencePeakAt: '2026-11-01T00:15:00.000Z',
      capacityPeak: 3, // L1, L2, L3
      capacityPeakAt: '2026-11-01T00:15:00.000Z',
    });
    expect(r.daily).toHaveLength(30);
    expect(r.daily[0]).toEqual({ day: '2026-11-01', minutes: 140, licencePeak: 2.5, portPeak: 3 });
    expect(r.daily[1]).toEqual({ day: '2026-11-02', minutes: 30, licencePeak: 2, portPeak: 2 }); // L4 until 00:30; L5 + zero-length L6 at 10:00:10
    expect(r.daily[2]).toEqual({ day: '2026-11-03', minutes: 0, licencePeak: 0, portPeak: 0 });
    expect(r.daily[29]).toEqual({ day: '2026-11-30', minutes: 90, licencePeak: 1.5, portPeak: 2 }); // L7 and the open leg
    expect(r.portsDay).toBe('2026-11-01');
    expect(r).toMatchObject({ month: '2026-11', from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', generatedAt: NOW.toISOString() });
  });

  it('follows the calendar of the time zone it is given (Copenhagen: November starts at 23:00 UTC)', () => {
    const r = monthlyReport({ month: '2026-11', cdr, openLegs: [OPEN], now: NOW, timeZone: 'Europe/Copenhagen' });
    expect(r).toMatchObject({ from: '2026-10-31T23:00:00.000Z', to: '2026-11-30T23:00:00.000Z' });
    // L1-L6 began in the local November; L7 and the open leg begin on 1 December local time.
    expect(r.kpis).toMatchObject({ calls: 6, minutes: 180, capacityPeak: 3, capacityPeakAt: '2026-11-01T00:15:00.000Z' });
    expect(r.daily).toHaveLength(30);
    expect(r.daily[0]).toEqual({ day: '2026-11-01', minutes: 120, licencePeak: 2.5, portPeak: 3 }); // L1 30, L2 60, L3 30
    expect(r.daily[1]).toEqual({ day: '2026-11-02', minutes: 60, licencePeak: 2, portPeak: 2 }); // L4 (00:30-01:30 local), L5 + L6
    expect(r.daily[29]).toMatchObject({ day: '2026-11-30', minutes: 0 });
    expect(r.portsDay).toBe('2026-11-01');
    expect(r.charts.portsDay).toContain('(Europe/Copenhagen)');
    expect(() => monthlyReport({ month: '2026-11', cdr, timeZone: 'Mars/Olympus' })).toThrow(/time zone "Mars\/Olympus" is unknown/);
  });

  it('has 23- and 25-hour days where the clocks change', () => {
    const march = parseMonth('2026-03', 'Europe/Copenhagen');
    expect([new Date(march.from).toISOString(), new Date(march.to).toISOString(), march.days]).toEqual(['2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z', 31]);
    expect((march.dayStarts[29]! - march.dayStarts[28]!) / 3_600_000).toBe(23); // 29 March
    const october = parseMonth('2026-10', 'Europe/Copenhagen');
    expect((october.dayStarts[25]! - october.dayStarts[24]!) / 3_600_000).toBe(25); // 25 October
    expect(october.dayStarts.slice(0, -1).map((t) => dayOf(t, 'Europe/Copenhagen'))).toEqual(Array.from({ length: 31 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`));
    expect(parseMonth('2026-11')).toMatchObject({ from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-12-01T00:00:00Z'), days: 30 });
  });

  it('gives zeros and no quality for an empty month, and no SMS without a source', () => {
    const r = monthlyReport({ month: '2026-02', cdr, now: NOW });
    expect(r.kpis).toMatchObject({ meetings: 0, calls: 0, minutes: 0, smsSent: 0, videoQualityPct: null, licencePeak: 0, capacityPeak: 0 });
    expect(r.kpis.capacityPeakAt).toBeUndefined();
    expect(r.daily).toHaveLength(28);
    expect(r.portsDay).toBe('2026-02-01');
    expect(() => parseXml(r.charts.portsDay)).not.toThrow();
  });

  it('refuses a malformed month or a chart day outside it, and a broken SMS source', () => {
    for (const month of ['2026-13', '2026-1', 'november', '', '26-11', '2026-11-01']) {
      expect(() => monthlyReport({ month, cdr })).toThrow(InvalidStatsInputError);
      expect(() => monthlyReport({ month, cdr })).toThrow(/must be YYYY-MM, e\.g\. 2026-11/);
    }
    expect(() => monthlyReport({ month: '2026-11', cdr, day: '2026-12-01' })).toThrow(/not in 2026-11/);
    expect(() => monthlyReport({ month: '2026-11', cdr, day: '2026-11-31' })).toThrow(/calendar day/);
    expect(() => monthlyReport({ month: '2026-11', cdr, smsSentCount: () => -1 })).toThrow(StatsError);
  });

  it('renders the KPI table like the published one, a column per month', () => {
    const nov = monthlyReport({ month: '2026-11', cdr, openLegs: [OPEN], now: NOW });
    const dec = monthlyReport({ month: '2026-12', cdr, now: new Date('2026-12-02T00:00:00Z') });
    const table = renderKpiTable([nov, dec]);
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\| Service goal\s+\| Requirement \|\s+2026-11 \|\s+2026-12 \|$/);
    expect(lines).toHaveLength(2 + 9);
    expect(table).toMatch(/\| Uptime – infrastructure\s+\| 99\.80 %\s+\|\s+– \|\s+– \|/);
    expect(table).toMatch(/\| Calls\s+\|\s+\|\s+7 \|\s+1 \|/); // December: only L8 (L7 began in November)
    expect(table).toMatch(/\| Video quality \(loss < 1 %\)\s+\|\s+\|\s+70\.00 % \|\s+\d/);
    expect(table).toMatch(/\| Licence use \(peak\)\s+\|\s+\|\s+2\.50 \|/);
    expect(table).toMatch(/\| Capacity use \(peak ports\)\s+\|\s+\|\s+3 \|/);
  });
});

describe('uptime', () => {
  it('takes outages of SIP and media together, leaves a service window out, and counts the API alone', () => {
    const av = new AvailabilityStore(db, { node: 'knude-1', sampleValidityMs: 40 * 86_400_000, now: () => NOW });
    // sip down 00:00-01:00 on the 10th, media down 00:30-02:00: the infrastructure is down 120 min
    av.recordAvailability('sip', true, '2026-10-30T00:00:00Z');
    av.recordAvailability('sip', false, '2026-11-10T00:00:00Z');
    av.recordAvailability('sip', true, '2026-11-10T01:00:00Z');
    av.recordAvailability('media', true, '2026-11-01T00:00:00Z');
    av.recordAvailability('media', false, '2026-11-10T00:30:00Z');
    av.recordAvailability('media', true, '2026-11-10T02:00:00Z');
    // sip down 02:00-05:00 on the 20th, of which 02:00-04:00 is an announced service window
    av.recordAvailability('sip', false, '2026-11-20T02:00:00Z');
    av.recordAvailability('sip', true, '2026-11-20T05:00:00Z');
    av.addServiceWindow({ from: '2026-11-20T02:00:00Z', to: '2026-11-20T04:00:00Z', reason: 'upgrade' });
    // API down 30 min
    av.recordAvailability('api', true, '2026-11-01T00:00:00Z');
    av.recordAvailability('api', false, '2026-11-05T12:00:00Z');
    av.recordAvailability('api', true, '2026-11-05T12:30:00Z');

    const month = { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' };
    const infra = av.uptime(['sip', 'media'], month);
    // 43,200 min in November − 120 planned = 43,080 operating; down 120 + 60
    expect(infra).toEqual({ pct: (42_900 / 43_080) * 100, upMs: 42_900 * 60_000, downMs: 180 * 60_000, plannedMs: 120 * 60_000, unknownMs: 0 });
    const r = monthlyReport({ month: '2026-11', cdr, availability: av, now: NOW });
    expect(r.kpis.uptimeInfrastructurePct).toBe(99.58);
    expect(r.kpis.uptimeApiPct).toBe(99.93); // 43,050 / 43,080
    expect(av.serviceWindows(month)).toEqual([{ id: 1, from: '2026-11-20T02:00:00.000Z', to: '2026-11-20T04:00:00.000Z', reason: 'upgrade' }]);
  });

  it('counts silence after a sample has expired as down, unless another node was up; time before the first sample is not counted', () => {
    const now = Date.parse('2026-11-10T03:00:00Z');
    const av = new AvailabilityStore(db, { node: 'a', now: () => new Date(now) }); // samples vouch for 3 min
    db.transaction(() => {
      for (let m = 0; m <= 60; m++) av.recordAvailability('sip', true, Date.parse('2026-11-10T00:00:00Z') + m * 60_000);
      for (let m = 0; m < 60; m++) av.recordAvailability('sip', true, Date.parse('2026-11-10T02:00:00Z') + m * 60_000);
    })();
    // the last sample at 01:00 vouches until 01:03; silence until 02:00 is down. 23:00-00:00 is before the first sample.
    const u = av.uptime(['sip'], { from: '2026-11-09T23:00:00Z', to: '2026-11-10T03:00:00Z' });
    expect(u).toEqual({ pct: (123 / 180) * 100, upMs: 123 * 60_000, downMs: 57 * 60_000, plannedMs: 0, unknownMs: 60 * 60_000 });
    // after the end of the period asked for, time that has not happened yet is not counted either
    expect(av.uptime(['sip'], { from: '2026-11-10T00:00:00Z', to: '2026-11-11T00:00:00Z' }).unknownMs).toBe(21 * 3_600_000);
    // a second node that was up through the gap makes the service up
    av.recordAvailability('sip', true, '2026-11-10T01:00:00Z', 'b');
    av.recordAvailability('sip', true, '2026-11-10T01:02:00Z', 'b');
    const redundant = new AvailabilityStore(db, { node: 'a', sampleValidityMs: 3_600_000, now: () => new Date(now) });
    expect(redundant.uptime(['sip'], { from: '2026-11-10T00:00:00Z', to: '2026-11-10T03:00:00Z' }).pct).toBe(100);
    expect(() => av.recordAvailability('dns' as never, true)).toThrow(/sip, media or api/);
    expect(() => av.addServiceWindow({ from: '2026-11-10T03:00:00Z', to: '2026-11-10T02:00:00Z' })).toThrow(/end after/);
  });
});

describe('availability sampling', () => {
  it('records each probe result (a throwing probe as down) until stopped', async () => {
    const av = new AvailabilityStore(db, { node: 'knude-1' });
    let n = 0;
    const sampler = sampleAvailability(av, 'api', () => {
      n++;
      if (n % 2 === 0) throw new Error('API did not answer');
      return true;
    }, 10);
    const rows = () => db.prepare("SELECT up FROM stats_availability WHERE component = 'api' ORDER BY rowid").pluck().all() as number[];
    for (let i = 0; i < 200 && rows().length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    sampler.stop();
    const seen = rows();
    expect(seen.slice(0, 4)).toEqual([1, 0, 1, 0]);
    await new Promise((r) => setTimeout(r, 50));
    expect(rows()).toHaveLength(seen.length);
    expect(() => sampleAvailability(av, 'dns' as never, () => true)).toThrow(/sip, media or api/);
  });
});

describe('charts', () => {
  it('are well-formed SVG with a title, and draw the hand-computed figures', () => {
    const r = monthlyReport({ month: '2026-11', cdr, openLegs: [OPEN], now: NOW });
    for (const svg of Object.values(r.charts)) {
      const els = parseXml(svg);
      expect(els[0]).toMatchObject({ name: 'svg', attrs: { xmlns: 'http://www.w3.org/2000/svg', width: '800', height: '320' } });
      expect(els[1].name).toBe('title');
    }
    const ports = parseXml(r.charts.portsDay);
    expect(ports[1].text).toBe('Concurrent ports 2026-11-01 (UTC)');
    const path = ports.find((e) => e.name === 'path')!.attrs.d;
    // y: 0..3 ports over 236 px, y=276 up to y=40 (1 port = 197.33); x: 724 px for 24 h from x=56.
    // 1 port at midnight (L1); 2 at 00:10 (x 61.03); 3 at 00:15 (63.54); L1 ends 00:20 (66.06);
    // L3 00:46 (79.13); L2 01:10 (91.19); L4 from 23:30 (764.92) past the end of the day.
    expect(path).toBe(
      'M56 197.33 L61.03 197.33 L61.03 118.67 L63.54 118.67 L63.54 40 L66.06 40 L66.06 118.67 L79.13 118.67 L79.13 197.33 L91.19 197.33 L91.19 276 L764.92 276 L764.92 197.33 L780 197.33',
    );
    expect(ports.filter((e) => e.name === 'text').map((e) => e.text)).toEqual(expect.arrayContaining(['00:00', '12:00', '24:00', '3', 'ports']));

    const minutes = parseXml(r.charts.dailyMinutes);
    const bars = minutes.filter((e) => e.name === 'rect' && e.attrs.fill !== '#ffffff');
    expect(bars).toHaveLength(30);
    const heights = bars.map((b) => Number(b.attrs.height));
    // top of the axis: 140 rounds up to 150 (ticks of 50): 140 min is 236·140/150 px
    expect(heights[0]).toBe(220.27);
    expect(heights[1]).toBe(47.2);
    expect(heights[29]).toBe(141.6);
    expect(heights.slice(2, 29).every((h) => h === 0)).toBe(true);
    expect(minutes.filter((e) => e.name === 'title').map((e) => e.text)).toContain('1: 140 min');

    const licences = parseXml(r.charts.licencesMonth);
    expect(licences.filter((e) => e.name === 'title').map((e) => e.text)).toEqual(expect.arrayContaining(['Licence use 2026-11 (peak per day)', '1: 2.5', '2: 2', '30: 1.5']));
  });

  it('draws the day asked for, and escapes nothing it should not', () => {
    const r = monthlyReport({ month: '2026-11', cdr, day: '2026-11-02', now: NOW });
    expect(r.portsDay).toBe('2026-11-02');
    const path = parseXml(r.charts.portsDay).find((e) => e.name === 'path')!.attrs.d;
    // 0..2 ports (1 port = y 158): 1 until 00:30 (x 71.08), then 0; at 10:00 (357.67) the ringing
    // leg, the zero-length spike to 2 and back at 10:00:10 (357.75), the ringing leg ends 10:00:30
    expect(path).toBe(
      'M56 158 L71.08 158 L71.08 276 L357.67 276 L357.67 158 L357.75 158 L357.75 40 L357.75 158 L357.92 158 L357.92 276 L780 276',
    );
  });
});
