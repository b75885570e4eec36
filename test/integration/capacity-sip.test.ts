/**
 * Issue 6 with real peers: SIPp fills a node whose limit is 20 ports (the 21st call gets 503
 * with Retry-After), an organisation over its quota gets 486 with the Reason, and every
 * counter is back at 0 after the calls end, also when 50 callers vanish mid-way without a BYE
 * (the media timeout, or the missing ACK, ends those). Then two knude processes share one
 * limit through PostgreSQL under concurrent SIPp load and never admit more than it together.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import type { JanusMediaPlane } from '../../src/media/index.js';
import { runSipp, sendRaw, sippAvailable, startSippServer } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

const PG_URL = process.env.KNUDE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const BIN = resolve('bin/knude.js');
const skipReason = sippAvailable() ? undefined : 'sipp is not installed';

async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

function inviteSavp(target: string, callId: string, user: string): string {
  const [host, port] = target.split(':');
  const sdp = [
    'v=0',
    'o=t 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 40000 RTP/SAVP 0',
    'a=rtpmap:0 PCMU/8000',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:+nu01sXoxGiPxm/CEclXCajf2G6g9jomOnieydh0',
    '',
  ].join('\r\n');
  return [
    `INVITE sip:${user}@${host}:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK${callId};rport`,
    `From: <sip:probe@127.0.0.1>;tag=${callId}`,
    `To: <sip:${user}@${host}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Contact: <sip:probe@127.0.0.1:5999>',
    'Max-Forwards: 70',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

/** The final response to one raw INVITE (the server's 100 Trying is skipped). */
async function finalResponse(target: string, user: string, callId: string): Promise<string> {
  const r = await sendRaw(target, 'udp', [inviteSavp(target, callId, user)], { waitMs: 3000, expectReplies: 2 });
  return r.messages.find((m) => !m.startsWith('SIP/2.0 100')) ?? `(no final response: ${JSON.stringify(r.messages)})`;
}

describe.skipIf(!!skipReason)(`capacity limits with SIPp${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let k: TestNode;

  beforeAll(async () => {
    k = await startKnude({
      overrides: {
        media: { janus: 'embedded', sip: { mediaTimeoutSeconds: 5 } },
        capacity: { maxPorts: 20, orgQuotas: { 'region-ost': 2 }, retryAfterSeconds: 20 },
      },
    });
    for (const [org, block] of [
      ['region-skane', '+4640'],
      ['region-ost', '+4613'],
    ]) {
      k.node.plan.createOrg({ name: org });
      k.node.plan.addBlock(org, block);
    }
    k.node.rooms.store.create({ org: 'region-skane', name: 'Stort rum', id: 'stort', aliases: ['+46405000'], maxParticipants: 100 });
    k.node.rooms.store.create({ org: 'region-ost', name: 'Östra', id: 'ostra', aliases: ['+46135000'], maxParticipants: 100 });
  }, 90_000);

  afterAll(async () => {
    await k?.stop({ keepData: !!process.env.KNUDE_TEST_KEEP });
    if (process.env.KNUDE_TEST_KEEP) console.log('knude log:', k?.logFile);
  });

  const ports = async () => (await k.node.capacity.usage()).ports;

  it('the 21st call gets 503 with Retry-After; an organisation over its quota gets 486 naming the quota; all counters return to 0', async () => {
    // Two calls fill region-ost's quota; the third is refused 486 with the Reason.
    const ost = runSipp({ scenario: 'uac-savp-recv-bye.xml', target: k.sip, service: '+46135000', count: 2, rate: 10, concurrency: 2, timeoutMs: 60_000 });
    await expect.poll(ports, { timeout: 10_000 }).toBe(2);
    const quotaText = await finalResponse(k.sip, '+46135000', 'quota-1');
    expect(quotaText).toMatch(/SIP\/2\.0 486/);
    expect(quotaText).toMatch(/Reason: Q\.850;cause=17;text="organisation region-ost quota of 2 concurrent ports reached"/);

    // 18 more fill the node; the 21st gets 503 with Retry-After.
    const skane = runSipp({ scenario: 'uac-savp-recv-bye.xml', target: k.sip, service: '+46405000', count: 18, rate: 20, concurrency: 18, timeoutMs: 60_000 });
    await expect.poll(ports, { timeout: 15_000 }).toBe(20);
    const fullText = await finalResponse(k.sip, '+46405000', 'full-1');
    expect(fullText).toMatch(/SIP\/2\.0 503/);
    expect(fullText).toMatch(/Retry-After: 20/);
    expect(fullText).toMatch(/Reason: Q\.850;cause=34;text="node port limit 20 reached"/);
    const usage = await k.node.capacity.usage();
    expect(usage.orgs['region-ost'].ports).toBe(2);
    expect(usage.byKind.audio).toBe(20);

    // SIPp sends no media: the media timeout ends every call with a BYE from knude.
    const [a, b] = await Promise.all([ost, skane]);
    expect(a.successful + b.successful).toBe(20);
    await expect.poll(ports, { timeout: 10_000 }).toBe(0);
    expect(k.node.roomCalls!.active).toBe(0);
    expect(k.node.rooms.manager!.participants('stort')).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${k.node.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/knude_admission_refusals_total\{[^}]*cause="node-ports"[^}]*\} 1/);
    expect(metrics).toMatch(/knude_admission_refusals_total\{[^}]*cause="org-quota"[^}]*\} 1/);
  }, 90_000);

  it('a bridged call takes a port while it rings and gives it back when the caller cancels', async () => {
    k.addAccount('region-skane', 'alice', 'alice-pw', ['+46401001']);
    k.addAccount('region-skane', 'bob', 'bob-pw', ['+46401002']);
    const port = await freePort('both');
    const reg = await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: port, service: 'bob', auth: { user: 'bob', password: 'bob-pw' }, keys: { expires: 300 }, timeoutMs: 10_000 });
    expect(reg.ok).toBe(true);
    const bob = await startSippServer({ scenario: 'uas-ring-no-answer.xml', localPort: port, service: 'bob', count: 1, timeoutMs: 30_000 });
    const call = runSipp({ scenario: 'uac-cancel.xml', target: k.sip, service: 'bob', auth: { user: 'alice', password: 'alice-pw' }, authUri: `bob@${k.sip}`, keys: { from_user: 'alice', cancel_after_ms: 1500 }, timeoutMs: 30_000 });
    await expect.poll(ports, { timeout: 5_000 }).toBe(1);
    expect((await call).ok).toBe(true);
    expect((await bob.done).ok).toBe(true);
    await expect.poll(ports, { timeout: 5_000 }).toBe(0);
  }, 60_000);

  it('a Janus crash ends the SIP calls in its rooms at once (BYE) and gives their ports back', async () => {
    const calls = runSipp({ scenario: 'uac-savp-recv-bye.xml', target: k.sip, service: '+46405000', count: 3, rate: 10, concurrency: 3, timeoutMs: 30_000 });
    await expect.poll(ports, { timeout: 10_000 }).toBe(3);
    const plane = k.node.media as JanusMediaPlane;
    const pid = plane.supervisor.pid!;
    const back = new Promise<void>((resolve) => plane.on('restarted', () => resolve()));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const r = await calls;
    expect(r.successful, 'each call got its BYE').toBe(3);
    // Well before the 5 s media timeout: the leg's hangup, not silence, ended them.
    expect(Date.now() - killedAt).toBeLessThan(4_000);
    await expect.poll(ports, { timeout: 5_000 }).toBe(0);
    const ended = k.node.stats.cdr.legs({ from: new Date(killedAt - 60_000), to: new Date(Date.now() + 1000) }).filter((l) => l.end >= new Date(killedAt).toISOString());
    expect(ended.filter((l) => /media server/.test(l.cause.text))).toHaveLength(3);
    // Janus is back and rooms work again.
    await back;
    expect(plane.supervisor.pid).not.toBe(pid);
    const again = runSipp({ scenario: 'uac-savp-recv-bye.xml', target: k.sip, service: '+46405000', count: 1, timeoutMs: 30_000 });
    await expect.poll(ports, { timeout: 20_000 }).toBe(1);
    expect((await again).ok).toBe(true);
    await expect.poll(ports, { timeout: 10_000 }).toBe(0);
  }, 90_000);

  it('50 callers that vanish mid-way (no BYE, some without ACK) give every port back', async () => {
    // SIPp is killed while its calls are being set up and held: nothing is hung up from its side.
    const r = await runSipp({ scenario: 'uac-savp-recv-bye.xml', target: k.sip, service: '+46405000', count: 50, rate: 50, concurrency: 20, timeoutMs: 2_500, keepTraces: 'never' });
    expect(r.killed || r.stopped || !r.ok).toBe(true);
    // Answered calls end at the media timeout (5 s); a 200 never ACKed ends at Timer H (32 s).
    await expect.poll(ports, { timeout: 45_000, interval: 1000 }).toBe(0);
    expect(k.node.roomCalls!.active).toBe(0);
    expect(k.node.rooms.manager!.participants('stort')).toEqual([]);
  }, 60_000);
});

describe.skipIf(!!skipReason)('two knude processes sharing one limit through PostgreSQL', () => {
  let a: TestNode | undefined;
  let b: ChildProcess | undefined;
  let bSip = '';
  let schema = '';
  let available = true;

  beforeAll(async () => {
    available = await pgAvailable();
    if (!available) return;
    schema = `knude_test_${process.pid}_${Date.now() % 100000}`;
    const capacity = { maxPorts: 10, store: 'postgres', postgresUrl: PG_URL, postgresSchema: schema, leaseSeconds: 10 };
    a = await startKnude({ overrides: { node: { name: 'knude-a' }, media: { janus: 'embedded', sip: { mediaTimeoutSeconds: 5 } }, capacity } });
    a.node.plan.createOrg({ name: 'region-skane' });
    a.node.plan.addBlock('region-skane', '+4640');
    a.node.rooms.store.create({ org: 'region-skane', name: 'Stort rum', id: 'stort', aliases: ['+46405000'], maxParticipants: 100 });

    // Node B: the real CLI in a process of its own, with its own store and Janus.
    const dir = mkdtempSync(join(tmpdir(), 'knude-b-'));
    const sipPort = await freePort('both');
    const cfg = join(dir, 'knude.yaml');
    writeFileSync(
      cfg,
      JSON.stringify({
        node: { name: 'knude-b', dataDir: dir },
        log: { level: 'info', format: 'json' },
        sip: {
          listen: [
            { transport: 'udp', address: '127.0.0.1', port: sipPort },
            { transport: 'tcp', address: '127.0.0.1', port: sipPort },
          ],
          embedded: { controlAddress: '127.0.0.1', controlPort: 0, secret: '' },
        },
        media: { janus: 'embedded', sip: { mediaTimeoutSeconds: 5, rtpPortMin: 23000, rtpPortMax: 23999 } },
        capacity,
        http: { address: '127.0.0.1', port: 0 },
      }),
    );
    const cli = (...args: string[]) => {
      const r = spawnSync('node', [BIN, '--config', cfg, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`knude ${args.join(' ')}: ${r.stderr}`);
    };
    cli('org', 'add', 'region-skane', '--block', '+4640');
    cli('room', 'add', '--org', 'region-skane', '--id', 'stort', '--name', 'Stort rum', '--alias', '+46405000', '--max', '100');
    b = spawn('node', [BIN, '--config', cfg, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolveStart, reject) => {
      const t = setTimeout(() => reject(new Error(`node B did not start:\n${out}`)), 60_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('knude started')) {
          clearTimeout(t);
          resolveStart();
        }
      };
      b!.stdout!.on('data', onData);
      b!.stderr!.on('data', onData);
      b!.once('exit', (code) => reject(new Error(`node B exited ${code}:\n${out}`)));
    });
    bSip = `127.0.0.1:${sipPort}`;
  }, 120_000);

  afterAll(async () => {
    if (b && b.exitCode === null) {
      b.kill('SIGTERM');
      await new Promise((r) => b!.once('exit', r));
    }
    await a?.stop();
    if (schema) {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  }, 60_000);

  it('never admits more than the shared limit of 10 under concurrent load on both nodes', async (ctx) => {
    if (!available) ctx.skip();
    let peak = 0;
    const sampler = setInterval(() => {
      void a!.node.capacity.usage().then((u) => (peak = Math.max(peak, u.ports)));
    }, 100);
    try {
      const [ra, rb] = await Promise.all([
        runSipp({ scenario: 'uac-savp-recv-bye.xml', target: a!.sip, service: '+46405000', count: 10, rate: 50, concurrency: 10, timeoutMs: 60_000 }),
        runSipp({ scenario: 'uac-savp-recv-bye.xml', target: bSip, service: '+46405000', count: 10, rate: 50, concurrency: 10, timeoutMs: 60_000 }),
      ]);
      // Exactly the limit got through (they were all up at once: nobody hung up before the timeout).
      expect(ra.successful + rb.successful).toBe(10);
      expect(ra.failed + rb.failed).toBe(10);
      expect(ra.successful).toBeGreaterThan(0);
      expect(rb.successful).toBeGreaterThan(0);
    } finally {
      clearInterval(sampler);
    }
    expect(peak).toBeLessThanOrEqual(10);
    expect(peak).toBe(10);
    await expect.poll(async () => (await a!.node.capacity.usage()).ports, { timeout: 15_000 }).toBe(0);
  }, 90_000);
});
