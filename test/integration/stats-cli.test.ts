/**
 * `knude report month` and `knude cdr export` as an operator runs them: the compiled CLI in a
 * child process, on a store filled with call, meeting and availability records whose figures
 * were worked out by hand. The SVG charts it writes are rendered to PNG by headless Chromium
 * and the pixels checked; exports are pseudonymised with a key that stays the same from one
 * run to the next, raw only on request; bad input is one clear line and exit code 2.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/node.js';
import { AvailabilityStore, CdrStore } from '../../src/stats/index.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/knude.js', import.meta.url));
let dir: string;
let config: string;
let browser: Browser | undefined;

async function knude(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return knudeWith({}, ...args);
}

async function knudeWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [BIN, '--config', config, ...args], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface XmlDoc {
  documentElement: { localName: string };
  getElementsByTagName(name: string): { length: number };
}

/** Width, height and RGBA pixels of an 8-bit, non-interlaced PNG (what Chromium writes). */
function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  expect(png.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))).toBe(true);
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8); // bit depth
      colorType = data[9];
      expect(data[12]).toBe(0); // not interlaced
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  expect(channels).toBeGreaterThan(0);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = new Uint8Array(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      line[i] = (line[i] + predictor) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < 3; ch++) out[(y * width + x) * 4 + ch] = line[x * channels + ch];
      out[(y * width + x) * 4 + 3] = channels === 4 ? line[x * channels + 3] : 255;
    }
    prev = line;
  }
  return { width, height, rgba: out };
}

/** Pixels that are not (nearly) white, and pixels of the charts' blue (#1f6fb2). */
function ink(rgba: Uint8Array): { ink: number; blue: number; total: number } {
  let inked = 0;
  let blue = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const [r, g, b] = [rgba[i], rgba[i + 1], rgba[i + 2]];
    if (r < 240 || g < 240 || b < 240) inked++;
    if (Math.abs(r - 0x1f) < 40 && Math.abs(g - 0x6f) < 40 && Math.abs(b - 0xb2) < 40) blue++;
  }
  return { ink: inked, blue, total: rgba.length / 4 };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'knude-stats-cli-'));
  config = join(dir, 'knude.yaml');
  writeFileSync(config, `node: { name: knude-stats, dataDir: ${JSON.stringify(join(dir, 'data'))} }\nsip: { domain: video.example.se }\n`);
  const db = openStore(loadConfig({ file: config, env: {} }));
  try {
    const cdr = new CdrStore(db, { node: 'knude-stats' });
    const base = { direction: 'inbound' as const, cause: { code: 200, text: 'BYE', side: 'caller' as const } };
    cdr.writeLegs([
      // 08:00-09:00 answered at once, no loss (good): 60 min
      { ...base, id: 'A', kind: 'video', start: '2025-03-02T08:00:00Z', answer: '2025-03-02T08:00:00Z', end: '2025-03-02T09:00:00Z', callerAlias: '+46401234', callerName: 'Anna Svensson', calleeAlias: 'sip:akut@skane.se', callerOrg: 'region-skane', calleeOrg: 'region-skane', roomId: 'akut', packetsReceived: 1000, licenceUnits: 1 },
      // 08:30-09:30, 5 % loss (poor): 60 min
      { ...base, id: 'B', kind: 'browser', start: '2025-03-02T08:30:00Z', answer: '2025-03-02T08:30:00Z', end: '2025-03-02T09:30:00Z', callerName: '=cmd|calc', calleeAlias: 'sip:akut@skane.se', roomId: 'akut', packetsReceived: 950, packetsLost: 50, licenceUnits: 2 },
      // 08:45, rang 20 s: the third port and 0.5 licences at 08:45
      { ...base, id: 'C', kind: 'audio', start: '2025-03-02T08:45:00Z', end: '2025-03-02T08:45:20Z', callerAlias: '+46401234', calleeAlias: '+46409999', cause: { code: 487, text: 'CANCEL', side: 'caller' }, licenceUnits: 0.5 },
    ]);
    cdr.writeMeeting({ roomId: 'akut', org: 'region-skane', opened: '2025-03-02T08:00:00Z', closed: '2025-03-02T09:30:00Z', participants: 2, peakParticipants: 2 });
    // every component sampled every 2 minutes all month; the API is silent 12:02-12:30 on the 10th
    const av = new AvailabilityStore(db, { node: 'knude-stats' });
    const from = Date.parse('2025-03-01T00:00:00Z');
    const to = Date.parse('2025-04-01T00:00:00Z');
    const gap = [Date.parse('2025-03-10T12:00:00Z'), Date.parse('2025-03-10T12:30:00Z')];
    db.transaction(() => {
      for (let t = from; t < to; t += 120_000) {
        av.recordAvailability('sip', true, t);
        av.recordAvailability('media', true, t);
        if (t <= gap[0] || t >= gap[1]) av.recordAvailability('api', true, t);
      }
    })();
  } finally {
    db.close();
  }
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('knude report month', () => {
  it('prints the hand-computed KPIs as JSON', async () => {
    const r = await knude('report', 'month', '2025-03', '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.kpis).toEqual({
      uptimeInfrastructurePct: 100,
      uptimeApiPct: 99.94, // the 12:00 sample vouches until 12:03: 27 of 44,640 minutes down
      meetings: 1,
      calls: 3,
      minutes: 120,
      smsSent: 0,
      videoQualityPct: 50,
      qualityMeasuredMinutes: 120,
      licencePeak: 3.5,
      licencePeakAt: '2025-03-02T08:45:00.000Z',
      capacityPeak: 3,
      capacityPeakAt: '2025-03-02T08:45:00.000Z',
    });
    expect(report.daily).toHaveLength(31);
    expect(report.portsDay).toBe('2025-03-02');
    expect(report.charts.portsDay).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg /);
  });

  it('follows reports.timeZone: a Stockholm March starts at 23:00 UTC the day before', async () => {
    const r = await knudeWith({ KNUDE_REPORTS__TIME_ZONE: 'Europe/Stockholm' }, 'report', 'month', '2025-03', '--format', 'json');
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect([report.from, report.to]).toEqual(['2025-02-28T23:00:00.000Z', '2025-03-31T22:00:00.000Z']);
    expect(report.daily).toHaveLength(31);
    expect(report.charts.portsDay).toContain('(Europe/Stockholm)');
  });

  it('prints the table the operators publish', async () => {
    const r = await knude('report', 'month', '2025-03', '2025-04');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^\| Service goal +\| Requirement \| +2025-03 \| +2025-04 \|$/);
    // April: the samples stop at midnight, and a node that stopped reporting was down
    expect(r.stdout).toMatch(/\| Uptime – infrastructure +\| 99\.80 % +\| +100\.00 % \| +0\.00 % \|/);
    expect(r.stdout).toMatch(/\| Uptime – API +\| 99\.80 % +\| +99\.94 % \| +0\.00 % \|/);
    expect(r.stdout).toMatch(/\| Meetings +\| +\| +1 \| +0 \|/);
    expect(r.stdout).toMatch(/\| Calls +\| +\| +3 \| +0 \|/);
    expect(r.stdout).toMatch(/\| Video quality \(loss < 1 %\) +\| +\| +50\.00 % \| +– \|/);
    expect(r.stdout).toMatch(/\| Capacity use \(peak ports\) +\| +\| +3 \| +0 \|/);
    expect(r.stdout).toContain('2025-03: capacity peak 3 ports at 2025-03-02T08:45:00.000Z; licence peak 3.5 at 2025-03-02T08:45:00.000Z');
  });

  it('writes the three charts as SVG that Chromium renders to non-empty 800×320 PNGs', async () => {
    const charts = join(dir, 'charts');
    const r = await knude('report', 'month', '2025-03', '--charts', charts);
    expect(r.code).toBe(0);
    expect(readdirSync(charts).sort()).toEqual(['daily-minutes-2025-03.svg', 'licences-2025-03.svg', 'ports-2025-03-02.svg']);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 800, height: 320 } });
    const blue: Record<string, number> = {};
    for (const file of readdirSync(charts)) {
      const svg = readFileSync(join(charts, file), 'utf8');
      // the browser's own XML parser: a malformed file shows a <parsererror>, not an <svg>
      const parsed = await page.evaluate((text) => {
        // (DOM types are not in this project's Node-only lib)
        const { DOMParser } = globalThis as unknown as { DOMParser: new () => { parseFromString(t: string, type: string): XmlDoc } };
        const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
        return { root: doc.documentElement.localName, errors: doc.getElementsByTagName('parsererror').length };
      }, svg);
      expect(parsed, file).toEqual({ root: 'svg', errors: 0 });
      await page.setContent(`<!doctype html><body style="margin:0;background:#fff">${svg.replace(/^<\?xml[^>]*>\s*/, '')}</body>`);
      const png = await page.screenshot({ type: 'png', clip: { x: 0, y: 0, width: 800, height: 320 } });
      writeFileSync(join(charts, file.replace(/\.svg$/, '.png')), png);
      expect(png.length, file).toBeGreaterThan(4_000);
      const { width, height, rgba } = decodePng(png);
      expect([width, height]).toEqual([800, 320]);
      const px = ink(rgba);
      expect(px.ink / px.total, file).toBeGreaterThan(0.01); // axes, labels and data drawn
      expect(px.ink / px.total, file).toBeLessThan(0.6); // not a black or blank-coloured box
      blue[file] = px.blue;
    }
    // one bar (day 2) of 236 × ~16 px in both bar charts; a 1.5 px step line of ports
    expect(blue['daily-minutes-2025-03.svg']).toBeGreaterThan(2_000);
    expect(blue['licences-2025-03.svg']).toBeGreaterThan(2_000);
    expect(blue['ports-2025-03-02.svg']).toBeGreaterThan(300);
  });

  it('refuses a bad month, format or day with one clear line and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['report', 'month', '2025-13'], /month "2025-13" must be YYYY-MM, e\.g\. 2026-11/],
      [['report', 'month', 'march'], /must be YYYY-MM/],
      [['report', 'month', '2025-03', '--format', 'pdf'], /--format must be md or json/],
      [['report', 'month', '2025-03', '--day', '2025-04-01'], /day 2025-04-01 is not in 2025-03/],
      [['report', 'month', '2025-03', '2025-04', '--day', '2025-03-02'], /--day needs exactly one month/],
      [['cdr', 'export', '--from', 'yesterday', '--to', '2025-04-01'], /--from "yesterday" must be a day YYYY-MM-DD/],
      [['cdr', 'export', '--from', '2025-03-01', '--to', '2025-02-30'], /day "2025-02-30" must be a calendar day YYYY-MM-DD/],
      [['cdr', 'export', '--from', '2025-03-01', '--to', '2025-04-01', '--format', 'xlsx'], /--format must be csv or json/],
      [['cdr', 'export', '--to', '2025-04-01'], /required option/],
    ];
    for (const [args, message] of cases) {
      const r = await knude(...args);
      expect(r.code, `${args.join(' ')} -> ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('knude cdr export', () => {
  const period = ['--from', '2025-03-01', '--to', '2025-04-01'];

  it('pseudonymises aliases and names by default, the same in every run', async () => {
    const first = await knude('cdr', 'export', ...period);
    expect(first.code).toBe(0);
    for (const secret of ['46401234', 'Anna', 'akut@skane.se', '46409999', 'calc']) expect(first.stdout).not.toContain(secret);
    const rows = first.stdout.trimEnd().split('\r\n').map((l) => l.split(','));
    expect(rows).toHaveLength(4);
    const caller = rows[0].indexOf('caller_alias');
    expect(rows[1][caller]).toMatch(/^p_[0-9a-f]{16}$/);
    expect(rows[3][caller]).toBe(rows[1][caller]); // A and C: the same caller
    expect(existsSync(join(dir, 'data', 'stats-export.key'))).toBe(true);
    const second = await knude('cdr', 'export', ...period);
    expect(second.stdout).toBe(first.stdout);
  });

  it('gives raw values on request, with a warning and formula cells neutralised', async () => {
    const out = join(dir, 'raw.csv');
    const r = await knude('cdr', 'export', ...period, '--raw', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/raw export: the output holds personal data/);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain(",'+46401234,Anna Svensson,sip:akut@skane.se,");
    expect(text).toContain(",'=cmd|calc,");
  });

  it('exports meeting records and both kinds as JSON by period', async () => {
    const meetings = await knude('cdr', 'export', ...period, '--records', 'meetings');
    expect(meetings.stdout.split('\r\n')[1]).toMatch(/^[0-9a-f-]{36},knude-stats,akut,region-skane,2025-03-02T08:00:00\.000Z,2025-03-02T09:30:00\.000Z,5400,2,2$/);
    const json = JSON.parse((await knude('cdr', 'export', '--from', '2025-03-02T08:40:00Z', '--to', '2025-03-02T08:50:00+00:00', '--format', 'json')).stdout);
    expect(json.pseudonymised).toBe(true);
    expect(json.legs.map((l: { id: string }) => l.id)).toEqual(['A', 'B', 'C']); // A and B still running at 08:40
    expect(json.meetings).toHaveLength(1);
  });
});
