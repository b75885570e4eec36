/**
 * Headless Debian Chromium for the room tests: fake camera and microphone (or a WAV file as
 * the microphone), run inside the test network namespace (Janus skips loopback candidates),
 * the page served over plain HTTP treated as a secure origin. KNUDE_TEST_BROWSER_LOG=1 prints
 * the page's console and its signalling messages.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestNetwork } from './netns.js';

export const MEDIA_FLAGS = ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-background-networking'];

export async function openMeetingPage(net: TestNetwork, origin: string, opts: { audioFile?: string; track?: Browser[] } = {}): Promise<Page> {
  const b = await chromium.launch({
    executablePath: net.chromium,
    args: [...MEDIA_FLAGS, `--unsafely-treat-insecure-origin-as-secure=${origin}`, ...(opts.audioFile ? [`--use-file-for-fake-audio-capture=${opts.audioFile}`] : [])],
  });
  opts.track?.push(b);
  const page = await b.newPage({ viewport: { width: 1100, height: 760 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  if (process.env.KNUDE_TEST_BROWSER_LOG) {
    page.on('console', (m) => console.log('page:', m.text()));
    await page.addInitScript(() => {
      const Native = WebSocket;
      (window as unknown as { WebSocket: unknown }).WebSocket = class extends Native {
        constructor(url: string | URL, p?: string | string[]) {
          super(url, p);
          this.addEventListener('message', (e) => console.log('ws<', String(e.data).slice(0, 160)));
          const send = this.send.bind(this);
          this.send = (d) => {
            console.log('ws>', String(d).slice(0, 120));
            send(d);
          };
        }
      };
    });
  }
  return page;
}
