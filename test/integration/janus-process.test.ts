/**
 * The embedded Janus under its supervisor, against the real janus binary: the written
 * configuration is accepted, the API answers, a kill -9 is followed by a restart, stop
 * leaves no process, a failed start says why, and a node process that dies takes its Janus
 * with it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { JanusAdminClient, JanusClient, JanusError } from '../../src/media/janus/client.js';
import { JanusSupervisor } from '../../src/media/janus/process.js';
import { freePort } from '../helpers/ports.js';

const janusBinary = spawnSync('sh', ['-c', 'command -v janus'], { encoding: 'utf8' }).stdout.trim();
const log = pino({ level: 'silent' });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'knude-janus-proc-'));
const supervisors: JanusSupervisor[] = [];

/** Pids of live (non-zombie) processes whose command line mentions `needle`. */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1];
      if (cmd.includes(needle) && state !== 'Z') out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

async function embedded(name: string, over: Partial<Parameters<typeof JanusSupervisor.embedded>[0]> = {}) {
  const [wsPort, adminWsPort, rtp] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
  const sup = JanusSupervisor.embedded({
    log,
    startTimeoutMs: 15_000,
    backoffMs: 50,
    ...over,
    config: {
      dataDir: path.join(tmp, name),
      wsPort,
      adminWsPort,
      adminSecret: `admin-${name}`,
      rtpPortRange: [rtp, rtp + 50],
      debugLevel: 4,
      serverName: `knude-test-${name}`,
      ...over.config,
    },
  });
  supervisors.push(sup);
  return sup;
}

async function info(url: string): Promise<Record<string, unknown>> {
  const c = await JanusClient.connect(url, { requestTimeoutMs: 3000 });
  try {
    return await c.info();
  } finally {
    await c.close();
  }
}

afterAll(async () => {
  for (const s of supervisors) await s.stop().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!janusBinary)('Janus supervisor (real janus)', () => {
  it('starts Janus with the written configuration: only the plugins and transport knude uses', async () => {
    const sup = await embedded('basic');
    await sup.start();
    expect(sup.ready).toBe(true);
    expect(sup.pid).toBeGreaterThan(0);
    const i = await info(sup.url);
    expect(i.janus).toBe('server_info');
    expect(i.name).toBe('Janus WebRTC Server');
    expect(i['server-name']).toBe('knude-test-basic');
    expect(Object.keys(i.plugins as object).sort()).toEqual(['janus.plugin.audiobridge', 'janus.plugin.videoroom']);
    expect(Object.keys(i.transports as object)).toEqual(['janus.transport.websockets']);
    expect(i['api_secret']).toBe(false);
    // The Janus log went through pino and is kept for error messages.
    expect(sup.recentLog.some((l) => /WebSockets thread started|Websockets server started/i.test(l))).toBe(true);
    await sup.stop();
  });

  it('answers the Admin API with the admin secret only', async () => {
    const sup = await embedded('admin');
    await sup.start();
    const admin = await JanusAdminClient.connect(sup.adminUrl!, sup.adminSecret!);
    expect(Array.isArray(await admin.listSessions())).toBe(true);
    await admin.close();
    const wrong = await JanusAdminClient.connect(sup.adminUrl!, 'wrong');
    const err = await wrong.listSessions().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusError);
    expect((err as JanusError).code).toBe(403);
    await wrong.close();
    await sup.stop();
  });

  it('restarts Janus after kill -9 and says so (down, then restarted)', async () => {
    const sup = await embedded('restart');
    await sup.start();
    const first = sup.pid!;
    const events: string[] = [];
    sup.on('down', () => events.push('down'));
    const restarted = new Promise<void>((resolve) => sup.on('restarted', () => resolve()));
    process.kill(first, 'SIGKILL');
    await restarted;
    expect(events).toEqual(['down']);
    expect(sup.ready).toBe(true);
    expect(sup.pid).toBeGreaterThan(0);
    expect(sup.pid).not.toBe(first);
    expect(alive(first)).toBe(false);
    expect((await info(sup.url)).janus).toBe('server_info');
    await sup.stop();
  });

  it('gives up after too many deaths within a minute', async () => {
    const sup = await embedded('flapping', { maxRestartsPerMinute: 1 });
    await sup.start();
    const restarted = new Promise<void>((resolve) => sup.once('restarted', () => resolve()));
    process.kill(sup.pid!, 'SIGKILL');
    await restarted;
    const failed = new Promise<Error>((resolve) => sup.once('failed', resolve));
    process.kill(sup.pid!, 'SIGKILL');
    const err = await failed;
    expect(err.message).toMatch(/1 times within a minute/);
    expect(sup.ready).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(sup.pid).toBeUndefined();
    expect(pidsWith(path.join(tmp, 'flapping'))).toEqual([]);
  });

  it('stop() leaves no process behind', async () => {
    const sup = await embedded('stop');
    await sup.start();
    const pid = sup.pid!;
    expect(alive(pid)).toBe(true);
    expect(pidsWith(path.join(tmp, 'stop'))).toEqual([pid]);
    await sup.stop();
    expect(alive(pid)).toBe(false);
    expect(pidsWith(path.join(tmp, 'stop'))).toEqual([]);
    expect(sup.ready).toBe(false);
    await sup.stop(); // idempotent
  });

  it('a failed start says why, with the last lines Janus logged', async () => {
    // Something else holds the API port: Janus cannot bind its WebSocket server.
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const sup = await embedded('busy', { startTimeoutMs: 8000, config: { wsPort: port } as never });
    const started = Date.now();
    const err = (await sup.start().catch((e: unknown) => e)) as Error;
    busy.close();
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/before its API answered|did not answer/);
    expect(err.message).toMatch(/last log lines/);
    expect(err.message).toMatch(/binding|Websockets/i);
    expect(Date.now() - started).toBeLessThan(9000);
    expect(pidsWith(path.join(tmp, 'busy'))).toEqual([]);
  });

  it('a missing binary is a clear error', async () => {
    const sup = await embedded('nobinary', { binary: path.join(tmp, 'no-such-janus') });
    const err = (await sup.start().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/no-such-janus|ENOENT|exited/);
  });

  it('an external Janus: no process, start() waits for its API, or fails clearly', async () => {
    const sup = await embedded('for-external');
    await sup.start();
    const ext = JanusSupervisor.external({ url: sup.url, log, startTimeoutMs: 3000 });
    await ext.start();
    expect(ext.embedded).toBe(false);
    expect(ext.pid).toBeUndefined();
    await ext.stop();
    expect(alive(sup.pid!)).toBe(true);
    const closedPort = await freePort('tcp');
    const gone = JanusSupervisor.external({ url: `ws://127.0.0.1:${closedPort}`, log, startTimeoutMs: 800 });
    const err = (await gone.start().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/external Janus .* did not answer within 800 ms/);
    await sup.stop();
  });

  it.skipIf(!existsSync('/usr/bin/setpriv'))('a node process killed with SIGKILL takes its Janus along', async () => {
    const [wsPort, adminWsPort, rtp] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
    const dataDir = path.join(tmp, 'orphan');
    const processTs = fileURLToPath(new URL('../../src/media/janus/process.ts', import.meta.url));
    const script = path.join(tmp, 'orphan.mts');
    writeFileSync(
      script,
      `import { pino } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('pino')).href)};
import { JanusSupervisor } from ${JSON.stringify(processTs)};
const sup = JanusSupervisor.embedded({ log: pino({ level: 'silent' }), config: { dataDir: ${JSON.stringify(dataDir)}, wsPort: ${wsPort}, adminWsPort: ${adminWsPort}, adminSecret: 'x', rtpPortRange: [${rtp}, ${rtp + 20}], debugLevel: 3 } });
await sup.start();
console.log('JANUS', sup.pid);
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const janusPid = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the helper did not start Janus')), 20_000);
        child.once('exit', (code) => reject(new Error(`the helper exited (${code}) before starting Janus`)));
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /JANUS (\d+)/.exec(buf);
          if (m) {
            clearTimeout(t);
            resolve(Number(m[1]));
          }
        });
      });
      expect(alive(janusPid)).toBe(true);
      child.kill('SIGKILL');
      expect(await until(() => !alive(janusPid), 5000)).toBe(true);
      expect(pidsWith(dataDir)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
