/**
 * Issue 4 with real peers: knude starts Janus; two headless Chromium browsers (fake camera
 * and microphone) join the same room from a network namespace (Janus skips loopback) and each
 * receives the other's video and audio; a wrong PIN is refused; after both leave the Janus
 * room is gone; killing Janus mid-meeting is survived. Screenshots go to test-results/.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JanusMediaPlane } from '../../src/media/index.js';
import { openMeetingPage } from '../helpers/browser.js';
import { createTestNetwork, netnsAvailable, type TestNetwork } from '../helpers/netns.js';
import { startKnude, type TestNode } from './knude-harness.js';

const skipReason = netnsAvailable();
let net: TestNetwork;
let k: TestNode;
const browsers: Browser[] = [];
const SHOTS = 'test-results';

function browser(origin: string): Promise<Page> {
  return openMeetingPage(net, origin, { track: browsers });
}

async function join(page: Page, origin: string, alias: string, name: string, pin?: string): Promise<void> {
  await page.goto(`${origin}/join/${encodeURIComponent(alias)}`);
  await page.fill('#display-name', name);
  if (pin !== undefined) await page.fill('#pin', pin);
  await page.click('#join');
}

type Stats = { framesDecoded: number; totalAudioEnergy: number; srtpCipher: string | null };

async function receiving(page: Page, timeoutMs: number): Promise<Stats> {
  const until = Date.now() + timeoutMs;
  let last: Stats = { framesDecoded: 0, totalAudioEnergy: 0, srtpCipher: null };
  let first: Stats | undefined;
  while (Date.now() < until) {
    last = await page.evaluate(() => (window as unknown as { knudeStats: () => Promise<Stats> }).knudeStats());
    first ??= last;
    if (last.framesDecoded > first.framesDecoded + 10 && last.totalAudioEnergy > first.totalAudioEnergy) return last;
    await page.waitForTimeout(500);
  }
  return last;
}

describe.skipIf(!!skipReason)(`rooms with browsers${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    net = createTestNetwork();
    k = await startKnude({
      overrides: {
        media: { janus: 'embedded', iceEnforceList: net.hostIf },
        rooms: { pinFailuresPerAddress: 2 },
        // The host side of the test network stands in for a TLS reverse proxy.
        http: { address: net.hostAddress, port: 0, trustedProxies: [net.hostAddress] },
      },
    });
    k.node.plan.createOrg({ name: 'region-skane' });
    k.node.plan.addBlock('region-skane', '+4640');
    k.node.rooms.store.create({ org: 'region-skane', name: 'Akutmottagning Lund', id: 'akut-lund', aliases: ['+46405000'], guestPin: '1234', maxParticipants: 10 });
    k.node.rooms.store.create({ org: 'region-skane', name: 'Kardiologi', id: 'kardio', aliases: ['+46405007'], guestPin: '7777', maxParticipants: 10 });
    k.node.rooms.store.create({ org: 'region-skane', name: 'Neurologi', id: 'neuro', aliases: ['+46405008'], guestPin: '8888', maxParticipants: 10 });
  }, 90_000);

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    await k?.stop();
    net?.close();
  });

  it('two browsers see and hear each other; DTLS-SRTP is negotiated', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    const a = await browser(origin);
    const b = await browser(origin);
    await a.goto(`${origin}/join/%2B46405000`);
    await a.screenshot({ path: `${SHOTS}/join-page.png` });
    await join(a, origin, '+46405000', 'Anna', '1234');
    await join(b, origin, '+46405000', 'Bertil', '1234');
    const [sa, sb] = await Promise.all([receiving(a, 10_000), receiving(b, 10_000)]);
    await a.screenshot({ path: `${SHOTS}/meeting-two-party.png` });
    expect(sa.framesDecoded, 'Anna decodes Bertil\'s video').toBeGreaterThan(10);
    expect(sb.framesDecoded, 'Bertil decodes Anna\'s video').toBeGreaterThan(10);
    expect(sa.totalAudioEnergy, 'Anna hears Bertil').toBeGreaterThan(0);
    expect(sb.totalAudioEnergy, 'Bertil hears Anna').toBeGreaterThan(0);
    expect(sa.srtpCipher).toMatch(/AES/);
    const room = k.node.rooms.manager!.snapshot();
    expect(JSON.stringify(room)).toContain('akut-lund');

    await a.click('#leave');
    await b.click('#leave');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await k.node.media!.roomExists('akut-lund'))) await new Promise((r) => setTimeout(r, 200));
    expect(await k.node.media!.roomExists('akut-lund')).toBe(false);
  }, 60_000);

  it('refuses a wrong PIN with a clear message', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    const page = await browser(origin);
    await join(page, origin, '+46405000', 'Mallory', '9999');
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(/PIN is not right/);
  }, 30_000);
  it('stops PIN guessing from one address across joins (rooms.pinFailuresPerAddress: 2 here)', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    for (const [pin, expected] of [
      ['1111', /PIN is not right/],
      ['2222', /PIN is not right/],
      ['7777', /Too many wrong PINs for this meeting from your network\. Try again in 10 minutes\./],
    ] as const) {
      const page = await browser(origin);
      await join(page, origin, '+46405007', 'Mallory', pin);
      await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(expected);
      await page.close();
    }
    expect(k.node.rooms.manager!.participants('kardio')).toEqual([]);
  }, 45_000);
  it('behind a trusted reverse proxy, counts PIN guesses per client named in X-Forwarded-For', async () => {
    const url = `ws://${net.hostAddress}:${k.node.httpPort}/ws/rooms`;
    const attempt = (client: string, pin: string) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(url, { headers: { 'X-Forwarded-For': `203.0.113.66, ${client}` } });
        const timer = setTimeout(() => reject(new Error('no answer to the join')), 10_000);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'join', alias: '+46405008', displayName: 'Via proxy', pin })));
        ws.on('message', (d) => {
          const m = JSON.parse(String(d)) as { type: string; reason?: string };
          if (m.type !== 'error') return;
          clearTimeout(timer);
          ws.close();
          resolve(m.reason ?? '');
        });
        ws.on('error', reject);
      });
    expect(await attempt('192.0.2.7', '1111')).toBe('wrong-pin');
    expect(await attempt('192.0.2.7', '2222')).toBe('wrong-pin');
    expect(await attempt('192.0.2.7', '8888')).toBe('too-many-attempts');
    // Another client behind the same proxy is not held back.
    expect(await attempt('192.0.2.8', '3333')).toBe('wrong-pin');
  }, 45_000);
  it('survives Janus being killed mid-meeting: knude restarts it, keeps serving, and the browsers rejoin', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    const a = await browser(origin);
    const b = await browser(origin);
    await join(a, origin, '+46405000', 'Cecilia', '1234');
    await join(b, origin, '+46405000', 'David', '1234');
    const before = await Promise.all([receiving(a, 10_000), receiving(b, 10_000)]);
    expect(before.map((s) => s.framesDecoded > 10)).toEqual([true, true]);

    const plane = k.node.media as JanusMediaPlane;
    const pid = plane.supervisor.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    // Both pages are told and go back to the join form.
    for (const page of [a, b]) await expect.poll(() => page.textContent('#status'), { timeout: 30_000 }).toMatch(/restarted/i);
    const health = await fetch(`${origin}/healthz`);
    expect(health.status, 'knude keeps serving while Janus restarts').toBe(200);
    await expect.poll(() => plane.supervisor.pid, { timeout: 30_000 }).toBeGreaterThan(0);
    expect(plane.supervisor.pid).not.toBe(pid);
    expect(k.node.rooms.manager!.participants('akut-lund')).toEqual([]);

    await join(a, origin, '+46405000', 'Cecilia', '1234');
    await join(b, origin, '+46405000', 'David', '1234');
    const [sa, sb] = await Promise.all([receiving(a, 15_000), receiving(b, 15_000)]);
    expect(sa.framesDecoded, 'Cecilia sees David again').toBeGreaterThan(10);
    expect(sb.framesDecoded, 'David sees Cecilia again').toBeGreaterThan(10);
    expect(sa.totalAudioEnergy).toBeGreaterThan(0);
    await a.click('#leave');
    await b.click('#leave');
    await expect.poll(() => k.node.media!.roomExists('akut-lund'), { timeout: 10_000 }).toBe(false);
  }, 120_000);
  it('tells the person why they cannot join: full room, meeting not started, camera denied; shows the branding', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    const store = k.node.rooms.store;
    store.create({ org: 'region-skane', id: 'liten', name: 'Litet rum', aliases: ['+46405001'], maxParticipants: 2, branding: { logoUrl: 'https://example.org/skane.svg', color: '#005aa0' } });
    const later = new Date(Date.now() + 3_600_000);
    store.create({ org: 'region-skane', id: 'senare', name: 'Senare möte', kind: 'one-time', aliases: ['+46405002'], validFrom: later, validUntil: new Date(later.getTime() + 3_600_000) });
    // Two participants (SIP-like, no media leg needed for admission) fill the small room.
    const m = k.node.rooms.manager!;
    const p1 = await m.join('liten', { kind: 'sip', displayName: 'Endpoint 1' });
    const p2 = await m.join('liten', { kind: 'sip', displayName: 'Endpoint 2' });

    const page = await browser(origin);
    await page.goto(`${origin}/join/%2B46405001`);
    expect(await page.getAttribute('#logo', 'src')).toBe('https://example.org/skane.svg');
    await join(page, origin, '+46405001', 'Eva');
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(/full/i);
    m.leave(p1.id);
    m.leave(p2.id);

    await page.goto(`${origin}/join/%2B46405002`);
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(/starts at/);
    await join(page, origin, '+46405002', 'Eva');
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(/starts at|not started/);

    // No fake-UI flag: headless Chromium denies the camera prompt, as a person who says no.
    const denied = await chromium.launch({ executablePath: net.chromium, args: ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--disable-background-networking', `--unsafely-treat-insecure-origin-as-secure=${origin}`] });
    browsers.push(denied);
    const dp = await denied.newPage();
    await dp.goto(`${origin}/join/%2B46405001`);
    await expect.poll(() => dp.textContent('#status'), { timeout: 10_000 }).toMatch(/Camera or microphone access was denied/);
  }, 60_000);
});
