/**
 * Issue 5 with real peers: SIP endpoints in meeting rooms with SRTP enforced. baresip (SDES,
 * mandatory SRTP, a sine tone and a generated picture) dials a room that a headless Chromium
 * (in a network namespace: Janus skips loopback) is in; each side gets the other's audio and
 * video. SIPp checks the refusals (plain RTP: 488 with a Warning) and a bare SRTP call; every
 * call gives its port back.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baresipAvailable, startBaresip, type Baresip } from '../helpers/baresip.js';
import { createTestNetwork, netnsAvailable, type TestNetwork } from '../helpers/netns.js';
import { freePort } from '../helpers/ports.js';
import { runSipp, sippAvailable } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

const skipReason = netnsAvailable() ?? baresipAvailable() ?? (sippAvailable() ? undefined : 'sipp is not installed');
let net: TestNetwork;
let k: TestNode;
const browsers: Browser[] = [];
const phones: Baresip[] = [];
const SHOTS = 'test-results';

async function openBrowser(origin: string): Promise<Page> {
  const b = await chromium.launch({
    executablePath: net.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-background-networking', `--unsafely-treat-insecure-origin-as-secure=${origin}`],
  });
  browsers.push(b);
  return b.newPage({ viewport: { width: 1100, height: 760 } });
}

type Stats = { framesDecoded: number; totalAudioEnergy: number };

async function browserReceives(page: Page, timeoutMs: number): Promise<Stats> {
  const until = Date.now() + timeoutMs;
  let first: Stats | undefined;
  let last: Stats = { framesDecoded: 0, totalAudioEnergy: 0 };
  while (Date.now() < until) {
    last = await page.evaluate(() => (window as unknown as { knudeStats: () => Promise<Stats> }).knudeStats());
    first ??= last;
    if (last.framesDecoded > first.framesDecoded + 10 && last.totalAudioEnergy > first.totalAudioEnergy) return last;
    await page.waitForTimeout(500);
  }
  return last;
}

/** baresip's rtcpsummary table at the end of a call: packets received per media. */
function received(output: string, kind: 'audio' | 'video'): number {
  const m = new RegExp(`${kind}\\s+Transmit:\\s+Receive:\\s*\\npackets:\\s+(\\d+)\\s+(\\d+)`).exec(output);
  return m ? Number(m[2]) : -1;
}

async function countersBackToZero(): Promise<void> {
  await expect.poll(async () => (await k.node.capacity.usage()).ports, { timeout: 10_000 }).toBe(0);
  expect(k.node.roomCalls!.active).toBe(0);
}

describe.skipIf(!!skipReason)(`SIP endpoints in rooms${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    net = createTestNetwork();
    k = await startKnude({
      overrides: {
        http: { address: net.hostAddress, port: 0 },
        media: { janus: 'embedded', iceEnforceList: net.hostIf, sip: { mediaTimeoutSeconds: 8 } },
        rooms: { sipPinAttempts: 1 },
      },
    });
    k.node.plan.createOrg({ name: 'region-skane' });
    k.node.plan.addBlock('region-skane', '+4640');
    k.node.rooms.store.create({ org: 'region-skane', name: 'Akutmottagning Lund', id: 'akut-lund', aliases: ['+46405000'], maxParticipants: 10 });
    k.node.rooms.store.create({ org: 'region-skane', name: 'Med PIN', id: 'med-pin', aliases: ['+46405009'], guestPin: '2468', maxParticipants: 10 });
  }, 90_000);

  afterAll(async () => {
    for (const p of phones) await p.stop().catch(() => {});
    for (const b of browsers) await b.close().catch(() => {});
    await k?.stop({ keepData: !!process.env.KNUDE_TEST_KEEP });
    if (process.env.KNUDE_TEST_KEEP) console.log('knude log:', k?.logFile);
    net?.close();
  });

  it('a SIP video endpoint (baresip, SRTP) and a browser see and hear each other in a room', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    const page = await openBrowser(origin);
    await page.goto(`${origin}/join/%2B46405000`);
    await page.fill('#display-name', 'Anna (browser)');
    await page.click('#join');
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(/Joined/);

    const phone = startBaresip({ dial: `sip:+46405000@${k.sip}`, aor: 'sip:video-unit@hospital.example', sipPort: await freePort('both'), seconds: 40 });
    phones.push(phone);
    await phone.waitFor(/Call established/, 15_000);
    await phone.waitFor(/srtp: video: SRTP is Enabled/, 5_000);

    // The browser gets the endpoint's picture and tone through the VideoRoom.
    const s = await browserReceives(page, 15_000);
    await page.screenshot({ path: `${SHOTS}/meeting-browser-and-sip.png` });
    expect(s.framesDecoded, "the browser decodes the SIP endpoint's video").toBeGreaterThan(10);
    expect(s.totalAudioEnergy, "the browser hears the SIP endpoint's tone").toBeGreaterThan(0);

    // Let the endpoint receive for a while, then hang up from the endpoint (BYE).
    await page.waitForTimeout(4000);
    const legs = k.node.rooms.manager!.participants('akut-lund').map((p) => p.kind).sort();
    expect(legs).toEqual(['browser', 'sip']);
    expect((await k.node.capacity.usage()).byKind).toMatchObject({ video: 1, browser: 1 });
    await phone.stop();
    const out = phone.output();
    expect(received(out, 'audio'), 'the endpoint receives the room mix').toBeGreaterThan(100);
    expect(received(out, 'video'), "the endpoint receives the browser's video (voice-switched)").toBeGreaterThan(30);
    expect(out).not.toMatch(/failed to decrypt/);

    await page.click('#leave');
    await countersBackToZero();
    await expect.poll(() => k.node.media!.roomExists('akut-lund'), { timeout: 10_000 }).toBe(false);
  }, 90_000);

  it('refuses plain RTP with 488 and a Warning; a bare SRTP call is answered and gives its port back', async () => {
    const plain = await runSipp({ scenario: 'uac-expect-status.xml', target: k.sip, service: '+46405000', keys: { expect_status: 488 }, timeoutMs: 15_000, keepTraces: 'always' });
    expect(plain.ok, plain.stdout.slice(-500)).toBe(true);
    const srtp = await runSipp({ scenario: 'uac-call-savp.xml', target: k.sip, service: '+46405000', keys: { hold_ms: 1500 }, timeoutMs: 20_000 });
    expect(srtp.ok, srtp.stdout.slice(-500)).toBe(true);
    await countersBackToZero();
  }, 60_000);

  it('an endpoint that sends no media is hung up after the media timeout, and its port comes back', async () => {
    // SIPp sends no RTP at all: after the configured 8 s knude sends BYE with a Reason.
    const started = Date.now();
    const r = await runSipp({ scenario: 'uac-savp-recv-bye.xml', target: k.sip, service: '+46405000', timeoutMs: 40_000 });
    expect(r.ok, r.stdout.slice(-500)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(7_000);
    await countersBackToZero();
  }, 60_000);

  it('a room with a PIN takes it as DTMF in SIP INFO; a wrong PIN ends the call after the attempts', async () => {
    const right = runSipp({ scenario: 'uac-savp-info-pin.xml', target: k.sip, service: '+46405009', keys: { d1: 2, d2: 4, d3: 6, d4: 8, hold_ms: 3000 }, timeoutMs: 30_000 });
    await expect.poll(() => k.node.rooms.manager!.participants('med-pin').map((p) => p.kind), { timeout: 10_000 }).toEqual(['sip']);
    const r = await right;
    expect(r.ok, r.stdout.slice(-500)).toBe(true);
    await countersBackToZero();
    expect(k.node.rooms.manager!.participants('med-pin')).toEqual([]);

    // One attempt allowed in this node's configuration: a wrong PIN and knude hangs up.
    const wrong = await runSipp({ scenario: 'uac-savp-info-pin-refused.xml', target: k.sip, service: '+46405009', keys: { d1: 1, d2: 1, d3: 1, d4: 1 }, timeoutMs: 40_000 });
    expect(wrong.ok, wrong.stdout.slice(-500)).toBe(true);
    expect(k.node.rooms.manager!.participants('med-pin')).toEqual([]);
    await countersBackToZero();
  }, 90_000);

  it('records every leg (CDR with SRTP suite and packets), counts SIP traffic and ports in /metrics, and reports the month', async () => {
    const legs = k.node.stats.cdr.legs({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
    const sip = legs.filter((l) => l.roomId === 'akut-lund' && l.kind === 'video');
    expect(sip.length, 'the baresip leg').toBeGreaterThanOrEqual(1);
    expect(sip[0]).toMatchObject({ direction: 'inbound', srtpSuite: expect.stringMatching(/AES/), calleeOrg: 'region-skane' });
    expect(sip[0].packetsReceived).toBeGreaterThan(100);
    expect(sip[0].packetsSent).toBeGreaterThan(100);
    expect(legs.some((l) => l.kind === 'browser' && l.roomId === 'akut-lund')).toBe(true);
    expect(legs.some((l) => l.cause.text === 'media timeout' && l.cause.side === 'system')).toBe(true);

    const base = `http://${net.hostAddress}:${k.node.httpPort}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/knude_sip_requests_total\{[^}]*method="INVITE"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/knude_sip_responses_total\{[^}]*code="488"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/knude_janus_up\{[^}]*\} 1/);
    expect(metrics).toMatch(/knude_media_packets_total\{/);

    const month = new Date().toISOString().slice(0, 7);
    const res = await fetch(`${base}/api/reports/monthly?month=${month}`);
    expect(res.status).toBe(200);
    const report = (await res.json()) as { kpis: { calls: number; meetings: number; capacityPeak: number }; charts: { portsDay: string } };
    expect(report.kpis.calls).toBeGreaterThanOrEqual(legs.length);
    expect(report.kpis.capacityPeak).toBeGreaterThanOrEqual(2);
    expect(report.charts.portsDay).toMatch(/<svg[^>]*>/);
    const bad = await fetch(`${base}/api/reports/monthly?month=2026-13`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
  }, 30_000);
});
