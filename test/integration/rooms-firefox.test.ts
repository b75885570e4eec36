/**
 * The join page in Firefox (Debian firefox-esr, driven over WebDriver BiDi by puppeteer-core;
 * playwright-core cannot drive a stock Firefox) with a headless Chromium in the same room:
 * each receives the other's video and audio. Both browsers run in the test network namespace.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Browser as ChromiumBrowser, Page as ChromiumPage } from 'playwright-core';
import puppeteer, { type Browser as FirefoxBrowser, type Page as FirefoxPage } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMeetingPage } from '../helpers/browser.js';
import { createTestNetwork, netnsAvailable, type TestNetwork } from '../helpers/netns.js';
import { startKnude, type TestNode } from './knude-harness.js';

function firefoxAvailable(): string | undefined {
  const r = spawnSync('firefox-esr', ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? 'firefox-esr is not installed (Debian package firefox-esr)' : undefined;
}

const skipReason = netnsAvailable() ?? firefoxAvailable();
let net: TestNetwork;
let k: TestNode;
let firefox: FirefoxBrowser | undefined;
const chromiums: ChromiumBrowser[] = [];

type Stats = { framesDecoded: number; totalAudioEnergy: number; srtpCipher: string | null };
const readStats = () => (window as unknown as { knudeStats: () => Promise<Stats> }).knudeStats();

async function receives(read: () => Promise<Stats>, timeoutMs: number): Promise<Stats> {
  const until = Date.now() + timeoutMs;
  let first: Stats | undefined;
  let last: Stats = { framesDecoded: 0, totalAudioEnergy: 0, srtpCipher: null };
  while (Date.now() < until) {
    last = await read();
    first ??= last;
    if (last.framesDecoded > first.framesDecoded + 10 && last.totalAudioEnergy > first.totalAudioEnergy) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

describe.skipIf(!!skipReason)(`rooms in Firefox${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    net = createTestNetwork();
    k = await startKnude({ overrides: { http: { address: net.hostAddress, port: 0 }, media: { janus: 'embedded', iceEnforceList: net.hostIf } } });
    k.node.plan.createOrg({ name: 'region-skane' });
    k.node.plan.addBlock('region-skane', '+4640');
    k.node.rooms.store.create({ org: 'region-skane', name: 'Hudkliniken', id: 'hud', aliases: ['+46405100'], maxParticipants: 10 });
  }, 90_000);

  afterAll(async () => {
    await firefox?.close().catch(() => {});
    for (const b of chromiums) await b.close().catch(() => {});
    await k?.stop();
    net?.close();
  });

  it('a Firefox and a Chromium participant see and hear each other', async () => {
    const origin = `http://${net.hostAddress}:${k.node.httpPort}`;
    // Firefox runs on the host side of the veth pair (puppeteer reaches its WebDriver BiDi port
    // on loopback there); it reaches knude and Janus at the host's veth address, not loopback.
    firefox = await puppeteer.launch({
      browser: 'firefox',
      executablePath: '/usr/bin/firefox-esr',
      headless: true,
      protocol: 'webDriverBiDi',
      extraPrefsFirefox: {
        // Fake camera and microphone, no permission prompt, and media on a plain-HTTP test origin.
        'media.navigator.streams.fake': true,
        'media.navigator.permission.disabled': true,
        'media.devices.insecure.enabled': true,
        'media.getusermedia.insecure.enabled': true,
        'media.autoplay.default': 0,
      },
    });
    const ff: FirefoxPage = await firefox.newPage();
    await ff.goto(`${origin}/join/%2B46405100`);
    await ff.type('#display-name', 'Frida (Firefox)');
    await ff.click('#join');
    await ff.waitForFunction(() => /Joined/.test(document.querySelector('#status')?.textContent ?? ''), { timeout: 15_000 });

    const ch: ChromiumPage = await openMeetingPage(net, origin, { track: chromiums });
    await ch.goto(`${origin}/join/%2B46405100`);
    await ch.fill('#display-name', 'Carl (Chromium)');
    await ch.click('#join');

    const [sf, sc] = await Promise.all([receives(() => ff.evaluate(readStats), 15_000), receives(() => ch.evaluate(readStats), 15_000)]);
    await ff.screenshot({ path: 'test-results/meeting-firefox.png' });
    if (sf.framesDecoded <= 10 || sc.framesDecoded <= 10) {
      // Seen once in a full CI run and never alone: keep what knude said about the media legs.
      const lines = readFileSync(k.logFile, 'utf8').split('\n').filter((l) => /signalling|subscriber|renegotiat|janus|"level":(40|50)/i.test(l));
      console.log(`Firefox ${JSON.stringify(sf)}, Chromium ${JSON.stringify(sc)}; knude log (media lines, last 80):\n${lines.slice(-80).join('\n')}`);
    }
    expect(sf.framesDecoded, "Firefox decodes Chromium's video").toBeGreaterThan(10);
    expect(sc.framesDecoded, "Chromium decodes Firefox's video").toBeGreaterThan(10);
    expect(sf.totalAudioEnergy, 'Firefox hears Chromium').toBeGreaterThan(0);
    expect(sc.totalAudioEnergy, 'Chromium hears Firefox').toBeGreaterThan(0);

    await ff.click('#leave');
    await ch.click('#leave');
    await expect.poll(() => k.node.media!.roomExists('hud'), { timeout: 10_000 }).toBe(false);
  }, 90_000);
});
