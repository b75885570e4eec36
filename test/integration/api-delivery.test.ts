/**
 * Invitations through a real HTTP SMS gateway (a local server started here that fails before
 * it succeeds), and the rate limit of a real API listener.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/api/v1/client.js';
import { parseApiConfig } from '../../src/api/v1/config.js';
import { HttpSmsGateway, type OutboxEntry } from '../../src/api/v1/notify.js';
import { startApiServer, type ApiHandle } from '../../src/api/v1/server.js';
import { DialPlanStore } from '../../src/dialplan/index.js';
import { AccountStore } from '../../src/registrar/accounts.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';
import { RoomStore } from '../../src/rooms/store.js';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';

interface GatewayRequest {
  authorization: string | undefined;
  body: { to: string; text: string; reference: string };
}

/** A gateway that answers the scripted statuses in turn (then 200). */
async function startGateway(script: number[]): Promise<{ url: string; requests: GatewayRequest[]; close(): Promise<void> }> {
  const requests: GatewayRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const status = script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const entry = (id: number): OutboxEntry => ({ id, org: 'o', channel: 'sms', recipient: '+4512345678', body: 'hello', status: 'queued', attempts: 0, createdAt: '', updatedAt: '' });
const noSleep = async (): Promise<void> => undefined;

describe('HTTP SMS gateway adapter', () => {
  it('retries on 5xx and succeeds, with the bearer token and JSON body', async () => {
    const gw = await startGateway([503, 500, 200]);
    try {
      const sender = new HttpSmsGateway({ url: gw.url, token: 'gw-secret', maxAttempts: 5, backoffMs: 1, timeoutMs: 2000 }, noSleep);
      expect(await sender.deliver(entry(7))).toEqual({ attempts: 3 });
      expect(gw.requests).toHaveLength(3);
      expect(gw.requests[0]).toEqual({ authorization: 'Bearer gw-secret', body: { to: '+4512345678', text: 'hello', reference: 'knude-outbox-7' } });
    } finally {
      await gw.close();
    }
  });

  it('gives up after maxAttempts of 5xx, and does not retry a 4xx refusal', async () => {
    const gw = await startGateway([502, 502, 502, 400]);
    try {
      const sender = new HttpSmsGateway({ url: gw.url, token: null, maxAttempts: 3, backoffMs: 1, timeoutMs: 2000 }, noSleep);
      await expect(sender.deliver(entry(1))).rejects.toMatchObject({ name: 'DeliveryError', attempts: 3, message: 'gateway answered 502 after 3 attempts' });
      await expect(sender.deliver(entry(2))).rejects.toMatchObject({ attempts: 1, message: 'gateway answered 400 (not retried)' });
      expect(gw.requests).toHaveLength(4);
      expect(gw.requests[0]?.authorization).toBeUndefined();
    } finally {
      await gw.close();
    }
  });

  it('retries when the gateway is unreachable', async () => {
    const gw = await startGateway([]);
    const url = gw.url;
    await gw.close();
    const sleeps: number[] = [];
    const sender = new HttpSmsGateway({ url, token: null, maxAttempts: 3, backoffMs: 100, timeoutMs: 500 }, async (ms) => void sleeps.push(ms));
    await expect(sender.deliver(entry(3))).rejects.toMatchObject({ attempts: 3, message: expect.stringMatching(/^gateway unreachable/) });
    // exponential backoff with jitter: [50,100) then [100,200)
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[0]).toBeLessThan(100);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(sleeps[1]).toBeLessThan(200);
  });
});

describe('API listener with an SMS gateway and a tight rate limit', () => {
  let dir: string;
  let db: Db;
  let api: ApiHandle;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: ApiClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'knude-api-gw-'));
    gw = await startGateway([503, 200]);
    db = openDatabase(':memory:');
    migrate(db, registrarMigrations);
    const plan = new DialPlanStore(db);
    plan.createOrg({ name: 'region-a' });
    plan.addBlock('region-a', '+4640');
    api = await startApiServer({
      config: parseApiConfig({ port: 0, rateLimit: { burst: 5, perSecond: 0.2 }, smsGateway: { url: gw.url, backoffMs: 10, maxAttempts: 3 } }),
      db,
      plan,
      rooms: new RoomStore(plan),
      accounts: new AccountStore(db),
      sipDomain: 'video.example.dk',
      dataDir: dir, // self-signed server certificate made here, as on a node without configured certificates
      log: pino({ level: 'silent' }),
    });
    const user = api.services.identity.createUser({ org: 'region-a', username: 'booker', displayName: 'Booker', role: 'booker' });
    client = new ApiClient({ port: api.port, token: api.services.identity.issueToken(user.id, 'test', 600).token });
  });

  afterAll(async () => {
    client?.close();
    await api?.close();
    await gw?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a booking\'s SMS goes through the gateway (after a 503) and shows as sent; the e-mail stays in the outbox', async () => {
    const r = await client.post('/api/v1/bookings', {
      title: 'Genoptræning',
      start: new Date(Date.now() + 3600_000).toISOString(),
      end: new Date(Date.now() + 7200_000).toISOString(),
      participants: [{ name: 'Borger', phone: '+4512121212', email: 'borger@example.com' }],
    });
    expect(r.status).toBe(201);
    expect(r.body.joinAlias).toBe(r.body.roomId); // no domain: the room id is the join alias
    await api.services.outbox.idle();
    const inv = (await client.get(`/api/v1/bookings/${r.body.id}/invitations`)).body as Array<{ channel: string; status: string; attempts: number }>;
    expect(inv.find((m) => m.channel === 'sms')).toMatchObject({ status: 'sent', attempts: 2 });
    expect(inv.find((m) => m.channel === 'email')).toMatchObject({ status: 'stored', attempts: 0 });
    expect(gw.requests.map((q) => q.body.to)).toEqual(['+4512121212', '+4512121212']);
    expect(gw.requests[1]?.body.text).toContain(r.body.joinLink);
  });

  it('answers 429 with Retry-After once the client\'s bucket is empty', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<ApiClient['get']>> | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await client.get('/api/v1/me');
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses).toContain(429);
    expect(statuses.slice(statuses.indexOf(429)).every((s) => s === 429)).toBe(true);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited?.body).toMatchObject({ status: 429, type: 'https://knude.dev/problems/rate-limited' });
    // another client (by IP, unauthenticated) has its own bucket
    const other = new ApiClient({ port: api.port });
    expect((await other.get('/api/v1/me')).status).toBe(401);
    other.close();
    expect(api.stats.responseValidationFailures).toBe(0);
  });
});

describe('response validation', () => {
  it('a response that does not match the document is answered 500 and logged as an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'knude-api-contract-'));
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) });
    const db = openDatabase(':memory:');
    migrate(db, registrarMigrations);
    const plan = new DialPlanStore(db);
    plan.createOrg({ name: 'region-a' });
    const api = await startApiServer({
      config: parseApiConfig({ port: 0 }),
      db,
      plan,
      rooms: new RoomStore(plan),
      accounts: new AccountStore(db),
      sipDomain: 'video.example.dk',
      dataDir: dir,
      log: pino({ level: 'info' }, sink),
    });
    const user = api.services.identity.createUser({ org: 'region-a', username: 'booker', displayName: 'Booker', role: 'booker' });
    const client = new ApiClient({ port: api.port, token: api.services.identity.issueToken(user.id, 'test', 600).token });
    try {
      const created = await client.post('/api/v1/bookings', {
        title: 'x',
        start: new Date(Date.now() + 3600_000).toISOString(),
        end: new Date(Date.now() + 7200_000).toISOString(),
        participants: [{ name: 'A', phone: '+4512345678' }],
      });
      expect(created.status).toBe(201);
      expect(api.stats.responseValidationFailures).toBe(0);
      // Data that bypassed the API (a bad migration, a hand edit) no longer fits the contract.
      db.prepare("UPDATE api_booking_participants SET phone = 'not a number'").run();
      const r = await client.get(`/api/v1/bookings/${created.body.id}`);
      expect(r.status).toBe(500);
      expect(r.body).toMatchObject({ status: 500, detail: 'the server produced an invalid response; the error is in the node log' });
      expect(r.text).not.toContain('not a number');
      expect(api.stats.responseValidationFailures).toBe(1);
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; operation?: string; issues?: unknown[] }).find((l) => l.level === 50);
      expect(logged).toMatchObject({ operation: 'getBooking', msg: expect.stringMatching(/DOES NOT MATCH THE OPENAPI DOCUMENT/) });
      expect(logged?.issues).toEqual([{ path: '/participants/0/phone', message: 'must match ^\\+[1-9][0-9]{1,14}$' }]);
      const audit = api.services.audit.query({ limit: 1 })[0];
      expect(audit).toMatchObject({ action: 'getBooking', status: 500 });
    } finally {
      client.close();
      await api.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
