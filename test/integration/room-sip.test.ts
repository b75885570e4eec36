/**
 * Issue 5 with real peers: SIP endpoints in meeting rooms with SRTP enforced. baresip (SDES,
 * mandatory SRTP, a sine tone and a generated picture) dials a room that a headless Chromium
 * (in a network namespace: Janus skips loopback) is in; each side gets the other's audio and
 * video. SIPp checks the refusals (plain RTP: 488 with a Warning) and a bare SRTP call; every
 * call gives its port back.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMeetingPage } from '../helpers/browser.js';
import { baresipAvailable, startBaresip, type Baresip } from '../helpers/baresip.js';
import { createTestNetwork, netnsAvailable, type TestNetwork } from '../helpers/netns.js';
import { freePort } from '../helpers/ports.js';
import { runSipp, sendRaw, sippAvailable } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

const skipReason = netnsAvailable() ?? baresipAvailable() ?? (sippAvailable() ? undefined : 'sipp is not installed');
let net: TestNetwork;
let k: TestNode;
const browsers: Browser[] = [];
const phones: Baresip[] = [];
const SHOTS = 'test-results';

/** A 16-bit mono WAV of a steady tone: a participant who talks without pause while unmuted. */
function toneWav(hz: number, seconds: number): string {
  const rate = 48000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * 2, 40);
  // Speech-like rather than a steady tone: the browser's noise suppression fades a stationary
  // tone out over time, but keeps a voice whose pitch and loudness move at syllable rate.
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    phase += (2 * Math.PI * hz * (1 + 0.3 * Math.sin(2 * Math.PI * 0.7 * t))) / rate;
    const envelope = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t);
    b.writeInt16LE(Math.round(Math.sin(phase) * envelope * 20000), 44 + i * 2);
  }
  const file = join(tmpdir(), `knude-tone-${hz}-${process.pid}.wav`);
  writeFileSync(file, b);
  return file;
}

function openBrowser(origin: string, audioFile?: string): Promise<Page> {
  return openMeetingPage(net, origin, { track: browsers, ...(audioFile ? { audioFile } : {}) });
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
        rooms: { sipPinAttempts: 1, pinFailuresPerAddress: 2 },
      },
    });
    k.node.plan.createOrg({ name: 'region-skane' });
    k.node.plan.addBlock('region-skane', '+4640');
    k.node.rooms.store.create({ org: 'region-skane', name: 'Akutmottagning Lund', id: 'akut-lund', aliases: ['+46405000'], maxParticipants: 10 });
    k.node.rooms.store.create({ org: 'region-skane', name: 'Med PIN', id: 'med-pin', aliases: ['+46405009'], guestPin: '2468', maxParticipants: 10 });
    k.node.rooms.store.create({ org: 'region-skane', name: 'Tre parter', id: 'tre', aliases: ['+46405003'], maxParticipants: 10 });
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

  it('two SIP video endpoints (baresip) in one room receive each other\'s audio and video within 10 s', async () => {
    const one = startBaresip({ dial: `sip:+46405000@${k.sip}`, aor: 'sip:room-system-1@hospital.example', sipPort: await freePort('both'), seconds: 40 });
    const two = startBaresip({ dial: `sip:+46405000@${k.sip}`, aor: 'sip:room-system-2@clinic.example', sipPort: await freePort('both'), seconds: 40 });
    phones.push(one, two);
    await Promise.all([one.waitFor(/Call established/, 15_000), two.waitFor(/Call established/, 15_000)]);
    await new Promise((r) => setTimeout(r, 10_000));
    await Promise.all([one.stop(), two.stop()]);
    for (const p of [one, two]) {
      const out = p.output();
      expect(received(out, 'audio'), 'audio from the other endpoint (room mix)').toBeGreaterThan(100);
      expect(received(out, 'video'), 'video of the other endpoint').toBeGreaterThan(30);
      expect(out).not.toMatch(/failed to decrypt/);
    }
    await countersBackToZero();
  }, 60_000);

  it('a DTLS-SRTP endpoint (baresip dtls_srtp) and an SDES one in a room receive each other\'s audio and video', async () => {
    const dtls = startBaresip({ dial: `sip:+46405000@${k.sip}`, aor: 'sip:dtls-unit@hospital.example', sipPort: await freePort('both'), seconds: 40, mediaenc: 'dtls_srtp' });
    const sdes = startBaresip({ dial: `sip:+46405000@${k.sip}`, aor: 'sip:sdes-unit@clinic.example', sipPort: await freePort('both'), seconds: 40 });
    phones.push(dtls, sdes);
    await Promise.all([dtls.waitFor(/Call established/, 15_000), sdes.waitFor(/Call established/, 15_000)]);
    await dtls.waitFor(/verified sha-256 fingerprint OK/, 10_000);
    await new Promise((r) => setTimeout(r, 8_000));
    await Promise.all([dtls.stop(), sdes.stop()]);
    for (const p of [dtls, sdes]) {
      expect(received(p.output(), 'audio')).toBeGreaterThan(100);
      expect(received(p.output(), 'video')).toBeGreaterThan(30);
    }
    await countersBackToZero();
    const legs = k.node.stats.cdr.legs({ from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 1000) });
    expect(legs.some((l) => l.srtpSuite?.startsWith('DTLS-SRTP '))).toBe(true);
  }, 60_000);

  it('active speaker: the endpoint sees whoever speaks, switched at a keyframe within 1 s', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    const tone = toneWav(330, 30);
    const switches: Array<{ display?: string; requestedAt: number; switchedAt: number }> = [];
    k.node.roomCalls!.switches.on('switched', (e) => {
      if (e.roomId === 'tre') switches.push(e);
    });
    const pages: Page[] = [];
    let phone: Baresip | undefined;
    try {
      for (const name of ['Berit', 'Cecil']) {
        const page = await openBrowser(origin, tone);
        pages.push(page);
        await page.goto(`${origin}/join/%2B46405003`);
        await page.fill('#display-name', name);
        await page.click('#join');
        await expect.poll(() => page.textContent('#status'), { timeout: 20_000 }).toMatch(/Joined/);
        await page.click('#mute');
      }
      phone = startBaresip({ dial: `sip:+46405003@${k.sip}`, aor: 'sip:conference-room@hospital.example', sipPort: await freePort('both'), seconds: 60 });
      phones.push(phone);
      await phone.waitFor(/Call established/, 15_000);
      // Nobody has spoken yet: the endpoint is shown someone (the first feed) at once.
      await expect.poll(() => switches.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 2000));

      const speak = async (page: Page, name: string) => {
        const before = switches.length;
        const at = Date.now();
        await page.click('#mute'); // unmute: the tone plays
        await expect.poll(() => switches.slice(before).find((e) => e.display === name), { timeout: 20_000 }).toBeTruthy();
        const e = switches.slice(before).find((x) => x.display === name)!;
        expect(e.switchedAt).toBeGreaterThan(at);
        expect(e.switchedAt - e.requestedAt, `keyframe for ${name} within 1 s`).toBeLessThan(1000);
        await page.click('#mute'); // quiet again
        // Long enough for the media server to see this speaker stop (its level averages over ~1 s).
        await new Promise((r) => setTimeout(r, 3000));
      };
      // Whoever is shown first, the other speaks first so every step is a switch.
      const first = switches[0].display === 'Berit' ? 1 : 0;
      await speak(pages[first], first === 1 ? 'Cecil' : 'Berit');
      await speak(pages[1 - first], first === 1 ? 'Berit' : 'Cecil');
      await speak(pages[first], first === 1 ? 'Cecil' : 'Berit');
      await speak(pages[1 - first], first === 1 ? 'Berit' : 'Cecil');
    } finally {
      await phone?.stop();
      for (const page of pages) await page.click('#leave').catch(() => {});
      for (const page of pages) await page.context().browser()?.close().catch(() => {});
    }
    expect(received(phone.output(), 'video')).toBeGreaterThan(30);
    await countersBackToZero();
  }, 120_000);

  it('refuses plain RTP and NULL ciphers with 488 and a Warning (SIPp, and baresip with encryption off); a bare SRTP call is answered and gives its port back', async () => {
    const plain = await runSipp({ scenario: 'uac-expect-status.xml', target: k.sip, service: '+46405000', keys: { expect_status: 488 }, timeoutMs: 15_000 });
    expect(plain.ok, plain.stdout.slice(-500)).toBe(true);
    const nullSuite = await runSipp({ scenario: 'uac-expect-status-savp.xml', target: k.sip, service: '+46405000', keys: { expect_status: 488, suite: 'NULL_HMAC_SHA1_80' }, timeoutMs: 15_000 });
    expect(nullSuite.ok, nullSuite.stdout.slice(-500)).toBe(true);
    const clear = startBaresip({ dial: `sip:+46405000@${k.sip}`, aor: 'sip:old-unit@hospital.example', sipPort: await freePort('both'), seconds: 20, mediaenc: '' });
    phones.push(clear);
    await clear.waitFor(/488/, 10_000);
    await clear.stop();
    const srtp = await runSipp({ scenario: 'uac-call-savp.xml', target: k.sip, service: '+46405000', keys: { hold_ms: 1500 }, timeoutMs: 20_000 });
    expect(srtp.ok, srtp.stdout.slice(-500)).toBe(true);
    await countersBackToZero();
  }, 60_000);

  it('takes hold (re-INVITE), INFO and resume (UPDATE) in the call, keeping SRTP; refuses a session interval under Min-SE with 422', async () => {
    const r = await runSipp({ scenario: 'uac-savp-reinvite.xml', target: k.sip, service: '+46405000', keys: { pause_ms: 300 }, timeoutMs: 30_000 });
    expect(r.ok, r.stdout.slice(-500)).toBe(true);
    await countersBackToZero();
    const short = await sendRaw(k.sip, 'udp', [
      [
        `INVITE sip:+46405000@${k.sip} SIP/2.0`,
        'Via: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bKse30;rport',
        'From: <sip:timer@127.0.0.1>;tag=se30',
        'To: <sip:+46405000@knude.local>',
        'Call-ID: session-expires-30',
        'CSeq: 1 INVITE',
        'Contact: <sip:timer@127.0.0.1:5998>',
        'Supported: timer',
        'Session-Expires: 30',
        'Max-Forwards: 70',
        'Content-Type: application/sdp',
        'Content-Length: 173',
        '',
        'v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:+nu01sXoxGiPxm/CEclXCajf2G6g9jomOnieydh0\r\n',
      ].join('\r\n'),
    ], { waitMs: 2000, expectReplies: 2 });
    const final = short.messages.find((m) => !m.startsWith('SIP/2.0 100')) ?? '';
    expect(final).toMatch(/^SIP\/2\.0 422/);
    expect(final).toMatch(/Min-SE: 90/);
  }, 60_000);

  it('answers a re-INVITE without SDP with the session as it stands and applies the answer from the ACK', async () => {
    const r = await runSipp({ scenario: 'uac-offerless-reinvite.xml', target: k.sip, service: '+46405000', keys: { hold_ms: 300 }, timeoutMs: 30_000 });
    expect(r.ok, r.stdout.slice(-500)).toBe(true);
    await countersBackToZero();
    expect(readFileSync(k.logFile, 'utf8')).toContain('session offered again (re-INVITE without SDP); the answer applies');
  });

  it('takes a late offer (INVITE without SDP): offers SRTP in the 200, reads the answer in the ACK', async () => {
    const r = runSipp({ scenario: 'uac-late-offer-savp.xml', target: k.sip, service: '+46405000', timeoutMs: 40_000 });
    await expect.poll(() => k.node.rooms.manager!.participants('akut-lund').map((p) => p.kind), { timeout: 10_000 }).toEqual(['sip']);
    const done = await r;
    expect(done.ok, done.stdout.slice(-500)).toBe(true);
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

  it('a room with a PIN greets a SIP caller with a spoken prompt (Opus here; G.711 prompts are unit-tested) before admitting it', async () => {
    const phone = startBaresip({ dial: `sip:+46405009@${k.sip}`, aor: 'sip:pin-caller@hospital.example', sipPort: await freePort('both'), seconds: 30 });
    phones.push(phone);
    await phone.waitFor(/Call established/, 15_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(k.node.rooms.manager!.participants('med-pin'), 'not in the room before the PIN').toEqual([]);
    await phone.stop();
    // Nothing but the prompt was sent to it: not admitted, so no room mix.
    expect(received(phone.output(), 'audio'), 'the prompt reached the endpoint').toBeGreaterThan(100);
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

    // Calling again does not give more tries: two wrong PINs from this address for this room
    // (rooms.pinFailuresPerAddress: 2) and even the right one is refused for a while.
    const again = await runSipp({ scenario: 'uac-savp-info-pin-refused.xml', target: k.sip, service: '+46405009', keys: { d1: 1, d2: 3, d3: 5, d4: 7 }, timeoutMs: 40_000 });
    expect(again.ok, again.stdout.slice(-500)).toBe(true);
    const locked = await runSipp({ scenario: 'uac-savp-info-pin-refused.xml', target: k.sip, service: '+46405009', keys: { d1: 2, d2: 4, d3: 6, d4: 8 }, timeoutMs: 40_000 });
    expect(locked.ok, locked.stdout.slice(-500)).toBe(true);
    expect(k.node.rooms.manager!.participants('med-pin')).toEqual([]);
    await countersBackToZero();
    const pinLegs = k.node.stats.cdr.legs({ from: new Date(Date.now() - 600_000), to: new Date(Date.now() + 60_000) }).filter((l) => l.roomId === 'med-pin');
    expect(pinLegs.at(-1)?.cause.text).toMatch(/too-many-attempts/);
    expect(pinLegs.at(-2)?.cause.text).toMatch(/wrong/i);
  }, 150_000);

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
    expect(metrics).toMatch(/knude_room_pin_refusals_total\{[^}]*reason="wrong-pin"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/knude_room_pin_refusals_total\{[^}]*reason="too-many-attempts"[^}]*\} [1-9]/);
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
