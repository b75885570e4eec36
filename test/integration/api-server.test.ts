/**
 * The administration and booking API over real TLS 1.3 with real client certificates (made
 * by `knude cert` code), a real SQLite store and the real dial plan, rooms and accounts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/api/v1/client.js';
import { defaultCapacityConfig, SqliteCapacityLedger } from '../../src/capacity/index.js';
import { parseApiConfig } from '../../src/api/v1/config.js';
import { startApiServer, type ApiHandle } from '../../src/api/v1/server.js';
import { createCa, createClientCertificate, createServerCertificate } from '../../src/cli/cert.js';
import { DialPlanStore } from '../../src/dialplan/index.js';
import { AccountStore } from '../../src/registrar/accounts.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';
import { RoomStore } from '../../src/rooms/store.js';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';

const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const hour = 3600_000;
const iso = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();

interface Who {
  client: ApiClient;
  fingerprint: string;
}

let dir: string;
let db: Db;
let api: ApiHandle;
let serverCa: Buffer;
let operator: Who;
let adminA: Who;
let adminB: Who;
let bookerA: Who;
let unmapped: Who;
let rogue: Who;
let anonymous: ApiClient;
let ledger: SqliteCapacityLedger;
const clients: ApiClient[] = [];

function clientFor(dirName: string): Who {
  const client = new ApiClient({ port: api.port, ca: serverCa, cert: readFileSync(join(dir, dirName, 'client.crt')), key: readFileSync(join(dir, dirName, 'client.key')) });
  clients.push(client);
  const mapping = JSON.parse(readFileSync(join(dir, dirName, 'mapping.json'), 'utf8')) as { fingerprint: string };
  return { client, fingerprint: mapping.fingerprint };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'knude-api-'));
  createCa({ outDir: join(dir, 'ca'), commonName: 'knude test client CA' });
  createCa({ outDir: join(dir, 'server-ca'), commonName: 'knude test server CA' });
  createCa({ outDir: join(dir, 'rogue-ca'), commonName: 'someone else' });
  createServerCertificate({ caDir: join(dir, 'server-ca'), names: ['localhost', '127.0.0.1'], outDir: join(dir, 'server') });
  createClientCertificate({ caDir: join(dir, 'ca'), org: null, role: 'operator', outDir: join(dir, 'operator') });
  createClientCertificate({ caDir: join(dir, 'ca'), org: 'region-a', role: 'org-admin', outDir: join(dir, 'admin-a') });
  createClientCertificate({ caDir: join(dir, 'ca'), org: 'region-b', role: 'org-admin', outDir: join(dir, 'admin-b') });
  createClientCertificate({ caDir: join(dir, 'ca'), org: 'region-a', role: 'booker', outDir: join(dir, 'booker-a') });
  createClientCertificate({ caDir: join(dir, 'ca'), org: 'region-a', role: 'booker', outDir: join(dir, 'unmapped') });
  createClientCertificate({ caDir: join(dir, 'rogue-ca'), org: 'region-a', role: 'org-admin', outDir: join(dir, 'rogue') });
  serverCa = readFileSync(join(dir, 'server-ca', 'ca.crt'));

  db = openDatabase(':memory:');
  migrate(db, registrarMigrations);
  const plan = new DialPlanStore(db);
  const rooms = new RoomStore(plan);
  const accounts = new AccountStore(db);
  ledger = new SqliteCapacityLedger(db, { ...defaultCapacityConfig, maxPorts: 200, orgQuotas: { 'region-b': 10 } });
  api = await startApiServer({
    usage: () => ledger.usage(),
    config: parseApiConfig({ port: 0, clientCaFile: join(dir, 'ca', 'ca.crt'), rateLimit: { burst: 100_000, perSecond: 100_000 }, publicUrl: 'https://video.example.dk' }),
    db,
    plan,
    rooms,
    accounts,
    sipDomain: 'video.example.dk',
    dataDir: dir,
    log: pino({ level: 'silent' }),
    tls: { cert: readFileSync(join(dir, 'server', 'server.crt')), key: readFileSync(join(dir, 'server', 'server.key')) },
  });
  operator = clientFor('operator');
  // The first operator is registered from the command line / by the node (bootstrap).
  api.services.identity.mapCertificate({ fingerprint: operator.fingerprint, org: null, role: 'operator', label: 'bootstrap operator' });
  adminA = clientFor('admin-a');
  adminB = clientFor('admin-b');
  bookerA = clientFor('booker-a');
  unmapped = clientFor('unmapped');
  rogue = clientFor('rogue');
  anonymous = new ApiClient({ port: api.port, ca: serverCa });
  clients.push(anonymous);
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await api?.close();
  await ledger?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ok<T = any>(p: Promise<{ status: number; body: T; text: string }>, status = 200): Promise<T> {
  const r = await p;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
  return r.body;
}

describe('transport security', () => {
  it('refuses a TLS 1.2 client at the handshake', async () => {
    const result = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: api.port, ca: serverCa, servername: 'localhost', maxVersion: 'TLSv1.2' }, () => resolve(`connected with ${s.getProtocol()}`));
      s.on('error', (err) => resolve(`refused: ${err.message}`));
    });
    expect(result).toMatch(/^refused: .*(protocol version|alert|wrong version|unsupported)/i);
  });

  it('speaks TLS 1.3 and asks for a client certificate', async () => {
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: api.port, ca: serverCa, servername: 'localhost' }, () => {
        resolve(s.getProtocol());
        s.end();
      });
      s.on('error', reject);
    });
    expect(protocol).toBe('TLSv1.3');
  });

  it('without a certificate or token: 401 problem+json with WWW-Authenticate', async () => {
    const r = await anonymous.get('/api/v1/rooms');
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(r.body).toMatchObject({ type: 'https://knude.dev/problems/unauthorized', status: 401, title: 'Unauthorized' });
  });

  it('refuses a certificate from another CA (401 naming the reason), even though its subject names region-a', async () => {
    const r = await rogue.client.get('/api/v1/me');
    expect(r.status).toBe(401);
    expect(r.body.detail).toMatch(/client certificate refused/);
  });

  it('refuses a valid certificate that no operator mapped', async () => {
    const r = await unmapped.client.get('/api/v1/me');
    expect(r.status).toBe(401);
    expect(r.body.detail).toMatch(/not mapped/);
  });

  it('refuses unknown and malformed bearer tokens', async () => {
    expect((await anonymous.withToken('knude_nope').get('/api/v1/me')).status).toBe(401);
    expect((await anonymous.request('GET', '/api/v1/me', undefined, { authorization: 'Basic Zm9vOmJhcg==' })).status).toBe(401);
  });

  it('serves /healthz and the OpenAPI 3.1 document without authentication', async () => {
    expect(await ok(anonymous.get('/healthz'))).toEqual({ status: 'ok' });
    const doc = await ok(anonymous.get('/api/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/api/v1/bookings');
    expect(doc.paths['/api/v1/bookings'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/NewBooking' });
    expect(doc.components.securitySchemes.mutualTLS.type).toBe('mutualTLS');
  });
});

describe('set-up by the operator', () => {
  it('maps client certificates to organisations and roles', async () => {
    await ok(operator.client.post('/api/v1/organisations', { name: 'region-a', displayName: 'Region A', blocks: ['+4640'], domains: ['a.example'] }), 201);
    const b = await ok(operator.client.post('/api/v1/organisations', { name: 'region-b', displayName: 'Region B', blocks: ['+4650'], domains: ['b.example'] }), 201);
    expect(b).toMatchObject({ name: 'region-b', blocks: ['+4650'], domains: ['b.example'] });
    await ok(operator.client.post('/api/v1/client-certificates', { certificate: readFileSync(join(dir, 'admin-a', 'client.crt'), 'utf8'), org: 'region-a', role: 'org-admin', label: 'A integration' }), 201);
    await ok(operator.client.post('/api/v1/client-certificates', JSON.parse(readFileSync(join(dir, 'admin-b', 'mapping.json'), 'utf8'))), 201);
    const booker = await ok(operator.client.post('/api/v1/client-certificates', { fingerprint: bookerA.fingerprint, org: 'region-a', role: 'booker', label: 'A booking system' }), 201);
    expect(booker.fingerprint).toBe(bookerA.fingerprint);
    expect(await ok(adminA.client.get('/api/v1/me'))).toEqual({ actor: `cert:${adminA.fingerprint.slice(0, 16)}`, org: 'region-a', role: 'org-admin', via: 'certificate' });
    expect((await operator.client.post('/api/v1/client-certificates', { fingerprint: bookerA.fingerprint, org: 'region-a', role: 'booker', label: 'again' })).status).toBe(409);
  });

  it('organisation 4xx: duplicates 409, overlapping blocks 409, bad names 400, unknown 404', async () => {
    expect((await operator.client.post('/api/v1/organisations', { name: 'region-a' })).status).toBe(409);
    expect((await operator.client.post('/api/v1/organisations', { name: 'region-c', blocks: ['+46401'] })).status).toBe(409);
    expect((await operator.client.get('/api/v1/organisations/region-c')).status).toBe(404); // all or nothing
    const bad = await operator.client.post('/api/v1/organisations', { name: 'Not A Slug!' });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('/name');
    expect((await operator.client.get('/api/v1/organisations/nowhere')).status).toBe(404);
    expect((await operator.client.post('/api/v1/organisations', { name: 'region-x', colour: 'red' })).status).toBe(400);
  });

  it('adds and removes blocks and domains, renames', async () => {
    expect(await ok(operator.client.post('/api/v1/organisations/region-a/blocks', { prefix: '+4641' }), 201)).toMatchObject({ blocks: ['+4640', '+4641'] });
    expect(await ok(operator.client.post('/api/v1/organisations/region-a/domains', { domain: 'lund.a.example' }), 201)).toMatchObject({ domains: ['a.example', 'lund.a.example'] });
    expect((await operator.client.request('DELETE', '/api/v1/organisations/region-a/blocks/+4641')).status).toBe(204);
    expect((await operator.client.request('DELETE', '/api/v1/organisations/region-a/domains/lund.a.example')).status).toBe(204);
    expect((await operator.client.request('DELETE', '/api/v1/organisations/region-a/blocks/+4699')).status).toBe(404);
    expect(await ok(operator.client.request('PATCH', '/api/v1/organisations/region-a', { displayName: 'Region A (Lund)' }))).toMatchObject({ displayName: 'Region A (Lund)' });
    expect(await ok(adminA.client.get('/api/v1/organisations'))).toHaveLength(1);
    expect(await ok(operator.client.get('/api/v1/organisations'))).toHaveLength(2);
  });
});

describe('users and tokens', () => {
  it('an org-admin creates users of its organisation; they sign in and get a token', async () => {
    const user = await ok(adminA.client.post('/api/v1/users', { username: 'anna', displayName: 'Anna A', email: 'anna@a.example', role: 'booker', password: 'correct horse battery' }), 201);
    expect(user).toMatchObject({ org: 'region-a', role: 'booker', hasPassword: true });
    expect(user).not.toHaveProperty('password');
    const session = await ok(anonymous.post('/api/v1/session', { username: 'anna', password: 'correct horse battery' }), 201);
    expect(session.token).toMatch(/^knude_/);
    const asAnna = anonymous.withToken(session.token);
    clients.push(asAnna);
    expect(await ok(asAnna.get('/api/v1/me'))).toMatchObject({ actor: 'user:anna', org: 'region-a', role: 'booker', via: 'token' });
    // the token is stored only as a hash
    const stored = db.prepare('SELECT hash FROM api_tokens').pluck().all() as string[];
    expect(stored.some((h) => h.includes(session.token))).toBe(false);
    expect(stored.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
    // a script token for the user, then revoked
    const issued = await ok(adminA.client.post('/api/v1/tokens', { userId: user.id, label: 'script', lifetimeSeconds: 600 }), 201);
    expect((await anonymous.withToken(issued.token).get('/api/v1/me')).status).toBe(200);
    expect((await ok(adminA.client.get('/api/v1/tokens'))).map((t: { id: string }) => t.id)).toContain(issued.id);
    expect((await adminA.client.request('DELETE', `/api/v1/tokens/${issued.id}`)).status).toBe(204);
    expect((await anonymous.withToken(issued.token).get('/api/v1/me')).status).toBe(401);
  });

  it('wrong password 401; an org-admin cannot create an operator; bookers cannot manage users', async () => {
    expect((await anonymous.post('/api/v1/session', { username: 'anna', password: 'wrong password!' })).status).toBe(401);
    expect((await anonymous.post('/api/v1/session', { username: 'nobody', password: 'wrong password!' })).status).toBe(401);
    expect((await adminA.client.post('/api/v1/users', { username: 'evil', displayName: 'Evil', role: 'operator' })).status).toBe(403);
    expect((await bookerA.client.get('/api/v1/users')).status).toBe(403);
    expect((await adminA.client.post('/api/v1/users', { username: 'anna', displayName: 'Dup', role: 'booker' })).status).toBe(409);
    expect((await adminA.client.post('/api/v1/users', { username: 'x', displayName: 'Short', role: 'booker' })).status).toBe(400);
    expect((await adminA.client.post('/api/v1/users', { username: 'bob', displayName: 'Bob', role: 'booker', email: 'not-an-email' })).status).toBe(400);
    expect((await adminA.client.post('/api/v1/tokens', { label: 'mine' })).status).toBe(422); // a certificate is not a user
  });

  it('updates and deletes users', async () => {
    const u = await ok(adminA.client.post('/api/v1/users', { username: 'carl', displayName: 'Carl', role: 'booker' }), 201);
    expect(await ok(adminA.client.request('PATCH', `/api/v1/users/${u.id}`, { role: 'org-admin', email: 'carl@a.example' }))).toMatchObject({ role: 'org-admin', email: 'carl@a.example' });
    expect(await ok(adminA.client.get(`/api/v1/users/${u.id}`))).toMatchObject({ username: 'carl' });
    expect((await adminA.client.request('PATCH', `/api/v1/users/${u.id}`, { role: 'operator' })).status).toBe(403);
    expect((await adminA.client.request('DELETE', `/api/v1/users/${u.id}`)).status).toBe(204);
    expect((await adminA.client.get(`/api/v1/users/${u.id}`)).status).toBe(404);
  });
});

describe('SIP accounts, rooms, templates', () => {
  it('creates a SIP account with aliases in the organisation\'s blocks and domains', async () => {
    const acc = await ok(adminA.client.post('/api/v1/accounts', { username: 'ep-lund-1', password: 'sip-secret-1', aliases: ['+46401234', 'lund1@a.example'] }), 201);
    expect(acc).toMatchObject({ id: 'ep-lund-1@video.example.dk', org: 'region-a', aliases: ['+46401234', 'lund1@a.example'] });
    expect(acc).not.toHaveProperty('ha1Md5');
    expect(await ok(adminA.client.post('/api/v1/accounts/ep-lund-1@video.example.dk/aliases', { alias: '+46401235' }), 201)).toMatchObject({ aliases: ['+46401234', '+46401235', 'lund1@a.example'] });
    expect((await adminA.client.request('DELETE', '/api/v1/accounts/ep-lund-1@video.example.dk/aliases/+46401235')).status).toBe(204);
    expect((await adminA.client.request('PUT', '/api/v1/accounts/ep-lund-1@video.example.dk/password', { password: 'new-secret-2' })).status).toBe(204);
    expect(api.services.accounts.get('ep-lund-1', 'video.example.dk')?.ha1Sha256).toMatch(/^[0-9a-f]{64}$/);
    // an alias outside region-a's plan is refused, and leaves no account behind
    expect((await adminA.client.post('/api/v1/accounts', { username: 'ep-2', password: 'sip-secret-1', aliases: ['+46501234'] })).status).toBe(409);
    expect((await adminA.client.get('/api/v1/accounts/ep-2@video.example.dk')).status).toBe(404);
    expect((await adminA.client.post('/api/v1/accounts', { username: 'ep-lund-1', password: 'sip-secret-1' })).status).toBe(409);
    expect((await adminA.client.post('/api/v1/accounts', { username: 'bad user', password: 'sip-secret-1' })).status).toBe(422);
    expect((await bookerA.client.get('/api/v1/accounts')).status).toBe(403);
    const tmp = await ok(adminA.client.post('/api/v1/accounts', { username: 'ep-tmp', password: 'sip-secret-1', aliases: ['+46409999'] }), 201);
    expect((await adminA.client.request('DELETE', `/api/v1/accounts/${tmp.id}`)).status).toBe(204);
    expect(api.services.plan.getAlias('+46409999')).toBeUndefined();
  });

  it('creates permanent rooms with PINs and colour; uploads a sanitised logo', async () => {
    const room = await ok(adminA.client.post('/api/v1/rooms', { id: 'akut-lund', name: 'Akut Lund', hostPin: '123456', guestPin: '2222', color: '#0a7', aliases: ['+46405000'] }), 201);
    expect(room).toMatchObject({ id: 'akut-lund', org: 'region-a', kind: 'permanent', hostPin: true, guestPin: true, color: '#0a7', aliases: ['+46405000'] });
    expect(JSON.stringify(room)).not.toContain('123456');
    expect((await adminA.client.post('/api/v1/rooms', { id: 'akut-lund', name: 'Again' })).status).toBe(409);
    expect((await adminA.client.post('/api/v1/rooms', { name: 'Same PINs', hostPin: '1111', guestPin: '1111' })).status).toBe(422);
    expect((await adminA.client.post('/api/v1/rooms', { name: 'Bad PIN', hostPin: '12' })).status).toBe(400);
    expect((await bookerA.client.post('/api/v1/rooms', { name: 'Booker room' })).status).toBe(403);
    expect((await operator.client.post('/api/v1/rooms', { name: 'Whose?' })).status).toBe(422); // operators must name the creating organisation
    const patched = await ok(adminA.client.request('PATCH', '/api/v1/rooms/akut-lund', { locked: true, maxParticipants: 10, color: null }));
    expect(patched).toMatchObject({ locked: true, maxParticipants: 10 });
    expect(patched).not.toHaveProperty('color');
    // A new guest PIN replaces the old; one equal to the host PIN is refused.
    await ok(adminA.client.request('PATCH', '/api/v1/rooms/akut-lund', { guestPin: '3333' }));
    expect(await api.services.rooms.verifyPin(api.services.rooms.get('akut-lund')!, '3333')).toBe('guest');
    expect(await api.services.rooms.verifyPin(api.services.rooms.get('akut-lund')!, '2222')).toBeNull();
    expect((await adminA.client.request('PATCH', '/api/v1/rooms/akut-lund', { guestPin: '123456' })).status).toBe(422);

    const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)"><script>alert(2)</script><rect width="10" height="10" fill="#0a7"/><image href="https://evil.example/x.png"/></svg>';
    const withLogo = await ok(adminA.client.request('PUT', '/api/v1/rooms/akut-lund/logo', { contentType: 'image/svg+xml', data: Buffer.from(svg).toString('base64') }));
    const stored = Buffer.from(String(withLogo.logo).replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString('utf8');
    expect(stored).toBe('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#0a7"/></svg>');
    const png = await ok(adminA.client.request('PUT', '/api/v1/rooms/akut-lund/logo', { contentType: 'image/png', data: PNG_1x1.toString('base64') }));
    expect(png.logo).toBe(`data:image/png;base64,${PNG_1x1.toString('base64')}`);
    expect((await adminA.client.request('PUT', '/api/v1/rooms/akut-lund/logo', { contentType: 'image/png', data: Buffer.from('GIF89a not a png').toString('base64') })).status).toBe(422);
    expect((await adminA.client.request('PUT', '/api/v1/rooms/akut-lund/logo', { contentType: 'image/gif', data: 'R0lGOD==' })).status).toBe(400);
    expect((await adminA.client.request('DELETE', '/api/v1/rooms/akut-lund/logo')).status).toBe(204);
    expect((await adminA.client.request('DELETE', '/api/v1/rooms/akut-lund/logo')).status).toBe(404);
    expect((await bookerA.client.get('/api/v1/rooms')).body.map((r: { id: string }) => r.id)).toContain('akut-lund');
    const gone = await ok(adminA.client.post('/api/v1/rooms', { name: 'Temporary' }), 201);
    expect((await adminA.client.request('DELETE', `/api/v1/rooms/${gone.id}`)).status).toBe(204);
    expect((await adminA.client.get(`/api/v1/rooms/${gone.id}`)).status).toBe(404);
  });

  it('templates: placeholders checked, one default per organisation', async () => {
    expect((await adminA.client.post('/api/v1/templates', { name: 'bad', smsText: 'Hi {{nmae}}', emailSubject: 's', emailText: 't' })).status).toBe(422);
    const t = await ok(
      adminA.client.post('/api/v1/templates', {
        name: 'standard',
        isDefault: true,
        smsText: 'Hej {{name}}! Videomøde "{{title}}" {{start}}. Link: {{link}} PIN: {{pin}}',
        emailSubject: 'Videomøde: {{title}}',
        emailText: 'Kære {{name}}\nMødet {{title}} starter {{start}} og slutter {{end}}.\nDeltag: {{link}}\nRing op: {{room}}\nPIN: {{pin}}\nVenlig hilsen {{org}}',
      }),
      201,
    );
    expect(t).toMatchObject({ org: 'region-a', isDefault: true });
    expect((await adminA.client.post('/api/v1/templates', { name: 'standard', smsText: 'x', emailSubject: 'y', emailText: 'z' })).status).toBe(409);
    const other = await ok(adminA.client.post('/api/v1/templates', { name: 'kort', smsText: '{{link}} {{pin}}', emailSubject: '{{title}}', emailText: '{{link}}' }), 201);
    expect(await ok(adminA.client.request('PATCH', `/api/v1/templates/${other.id}`, { smsText: 'Møde: {{link}} PIN {{pin}}' }))).toMatchObject({ smsText: 'Møde: {{link}} PIN {{pin}}', isDefault: false });
    expect(await ok(bookerA.client.get(`/api/v1/templates/${t.id}`))).toMatchObject({ name: 'standard' });
    expect((await bookerA.client.post('/api/v1/templates', { name: 'b', smsText: 'x', emailSubject: 'y', emailText: 'z' })).status).toBe(403);
    expect((await adminA.client.request('DELETE', `/api/v1/templates/${other.id}`)).status).toBe(204);
    expect((await adminA.client.get(`/api/v1/templates/${other.id}`)).status).toBe(404);
  });
});

describe('bookings', () => {
  it('a booking makes a one-time room with PINs and a join link, and sends invitations to the outbox with the template applied', async () => {
    const start = iso(hour);
    const end = iso(2 * hour);
    const booking = await ok(
      bookerA.client.post('/api/v1/bookings', {
        title: 'Udskrivningskonference',
        start,
        end,
        participants: [
          { name: 'Dr. Jensen', email: 'jensen@a.example', role: 'host' },
          { name: 'Borger Hansen', phone: '+4512345678', email: 'hansen@example.com' },
        ],
      }),
      201,
    );
    expect(booking).toMatchObject({ org: 'region-a', title: 'Udskrivningskonference', status: 'booked', createdBy: `cert:${bookerA.fingerprint.slice(0, 16)}` });
    expect(booking.joinAlias).toBe(`${booking.roomId}@a.example`);
    expect(booking.joinLink).toBe(`https://video.example.dk/join/${booking.joinAlias}`);
    expect(booking.hostPin).toMatch(/^\d{6}$/);
    expect(booking.guestPin).toMatch(/^\d{6}$/);
    expect(booking.hostPin).not.toBe(booking.guestPin);
    const room = api.services.rooms.byAlias(booking.joinAlias);
    expect(room).toMatchObject({ id: booking.roomId, kind: 'one-time', org: 'region-a', validFrom: new Date(start).toISOString() });
    expect(await api.services.rooms.verifyPin(room!, booking.hostPin)).toBe('host');
    expect(await api.services.rooms.verifyPin(room!, booking.guestPin)).toBe('guest');

    const invitations = await ok(bookerA.client.get(`/api/v1/bookings/${booking.id}/invitations`));
    expect(invitations).toHaveLength(3);
    const sms = invitations.find((m: { channel: string }) => m.channel === 'sms');
    expect(sms).toMatchObject({ recipient: '+4512345678', status: 'stored' });
    expect(sms.body).toBe(`Hej Borger Hansen! Videomøde "Udskrivningskonference" ${sms.body.match(/" (.*)\. Link/)[1]}. Link: ${booking.joinLink} PIN: ${booking.guestPin}`);
    const hostMail = invitations.find((m: { recipient: string }) => m.recipient === 'jensen@a.example');
    expect(hostMail.subject).toBe('Videomøde: Udskrivningskonference');
    expect(hostMail.body).toContain(`PIN: ${booking.hostPin}`);
    expect(hostMail.body).toContain(`Ring op: ${booking.joinAlias}`);
    expect(hostMail.body).toContain('Venlig hilsen Region A (Lund)');
    expect(hostMail.body).not.toMatch(/\{\{/);

    const got = await ok(adminA.client.get(`/api/v1/bookings/${booking.id}`));
    expect(got).not.toHaveProperty('hostPin');
    expect((await ok(bookerA.client.get(`/api/v1/bookings?from=${encodeURIComponent(iso(0))}`))).map((b: { id: string }) => b.id)).toContain(booking.id);
    expect((await ok(adminA.client.get('/api/v1/outbox'))).length).toBeGreaterThanOrEqual(3);

    const cancelled = await ok(bookerA.client.request('DELETE', `/api/v1/bookings/${booking.id}`));
    expect(cancelled.status).toBe('cancelled');
    expect(api.services.rooms.get(booking.roomId)).toBeUndefined();
    expect((await bookerA.client.request('DELETE', `/api/v1/bookings/${booking.id}`)).status).toBe(409);
  });

  it('booking 4xx: past, reversed, too long, no participants, bad phone, foreign template', async () => {
    const p = [{ name: 'X', phone: '+4511111111' }];
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'Past', start: iso(-3 * hour), end: iso(-2 * hour), participants: p })).status).toBe(422);
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'Reversed', start: iso(2 * hour), end: iso(hour), participants: p })).status).toBe(422);
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'Long', start: iso(hour), end: iso(30 * hour), participants: p })).status).toBe(422);
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'Nobody', start: iso(hour), end: iso(2 * hour), participants: [] })).status).toBe(400);
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'Phone', start: iso(hour), end: iso(2 * hour), participants: [{ name: 'X', phone: '12345' }] })).status).toBe(400);
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'No zone', start: '2030-01-01T10:00:00', end: '2030-01-01T11:00:00', participants: p })).status).toBe(400);
    const bTemplate = await ok(adminB.client.post('/api/v1/templates', { name: 'b-only', smsText: '{{link}}', emailSubject: 'x', emailText: 'y' }), 201);
    expect((await bookerA.client.post('/api/v1/bookings', { title: 'Foreign', start: iso(hour), end: iso(2 * hour), participants: p, templateId: bTemplate.id })).status).toBe(422);
    expect((await bookerA.client.request('POST', '/api/v1/bookings', 'title=x', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await bookerA.client.request('POST', '/api/v1/bookings', '{"title":', {})).status).toBe(400);
    expect((await bookerA.client.get('/api/v1/bookings/does-not-exist')).status).toBe(404);
    expect((await bookerA.client.get('/api/v1/bookings?colour=red')).status).toBe(400);
    expect((await bookerA.client.request('PUT', '/api/v1/bookings', {})).status).toBe(405);
    expect((await bookerA.client.get('/api/v1/nothing-here')).status).toBe(404);
    const huge = await adminA.client.request('PUT', '/api/v1/rooms/akut-lund/logo', { contentType: 'image/png', data: 'A'.repeat(1_100_000) });
    expect(huge.status).toBe(413);
  });
});

describe('operations: service windows, abuse blocks', () => {
  it('operators announce service windows; everyone reads them; others cannot write', async () => {
    const w = await ok(operator.client.post('/api/v1/service-windows', { start: iso(24 * hour), end: iso(26 * hour), description: 'Opgradering af knude' }), 201);
    expect((await ok(bookerA.client.get('/api/v1/service-windows?current=true'))).map((x: { id: string }) => x.id)).toContain(w.id);
    expect((await adminA.client.post('/api/v1/service-windows', { start: iso(hour), end: iso(2 * hour), description: 'x' })).status).toBe(403);
    expect((await operator.client.post('/api/v1/service-windows', { start: iso(2 * hour), end: iso(hour), description: 'backwards' })).status).toBe(422);
    expect((await adminA.client.request('DELETE', `/api/v1/service-windows/${w.id}`)).status).toBe(403);
    expect((await operator.client.request('DELETE', `/api/v1/service-windows/${w.id}`)).status).toBe(204);
    expect((await operator.client.request('DELETE', `/api/v1/service-windows/${w.id}`)).status).toBe(404);
  });

  it('blocks and unblocks a source range and an account; isBlocked answers the SIP layer', async () => {
    const ip = await ok(operator.client.post('/api/v1/abuse-blocks', { kind: 'ip', value: '198.51.100.0/24', reason: 'REGISTER flood' }), 201);
    const acc = await ok(operator.client.post('/api/v1/abuse-blocks', { kind: 'account', value: 'ep-lund-1@video.example.dk', reason: 'toll fraud probing' }), 201);
    expect(api.services.abuse.isBlocked({ ip: '198.51.100.77' })).toBe(true);
    expect(api.services.abuse.isBlocked({ ip: '198.51.101.1' })).toBe(false);
    expect(api.services.abuse.isBlocked({ account: 'EP-LUND-1@video.example.dk' })).toBe(true);
    expect((await operator.client.post('/api/v1/abuse-blocks', { kind: 'ip', value: '198.51.100.0/24', reason: 'again' })).status).toBe(409);
    expect((await operator.client.post('/api/v1/abuse-blocks', { kind: 'ip', value: '300.1.1.1', reason: 'bad' })).status).toBe(422);
    expect((await adminA.client.post('/api/v1/abuse-blocks', { kind: 'ip', value: '203.0.113.1', reason: 'x' })).status).toBe(403);
    expect((await adminA.client.get('/api/v1/abuse-blocks')).status).toBe(403);
    expect(await ok(operator.client.get('/api/v1/abuse-blocks'))).toHaveLength(2);
    expect((await operator.client.request('DELETE', `/api/v1/abuse-blocks/${ip.id}`)).status).toBe(204);
    expect((await operator.client.request('DELETE', `/api/v1/abuse-blocks/${acc.id}`)).status).toBe(204);
    expect(api.services.abuse.isBlocked({ ip: '198.51.100.77', account: 'ep-lund-1@video.example.dk' })).toBe(false);
  });
});

describe('room aliases and usage', () => {
  it('adds and removes room aliases within the organisation\'s plan', async () => {
    expect(await ok(adminA.client.post('/api/v1/rooms/akut-lund/aliases', { alias: 'akut@a.example' }), 201)).toMatchObject({ aliases: ['+46405000', 'akut@a.example'] });
    expect((await adminA.client.post('/api/v1/rooms/akut-lund/aliases', { alias: '+46505000' })).status).toBe(409); // region-b's block
    expect((await adminA.client.request('DELETE', '/api/v1/rooms/akut-lund/aliases/akut@a.example')).status).toBe(204);
    expect((await adminA.client.request('DELETE', '/api/v1/rooms/akut-lund/aliases/akut@a.example')).status).toBe(404);
  });

  it('shows capacity use: the node to operators, only the own organisation to org-admins', async () => {
    await ledger.reserve({ legId: 'a1', kind: 'video', org: 'region-a' });
    await ledger.reserve({ legId: 'b1', kind: 'browser', org: 'region-b' });
    await ledger.reserve({ legId: 'b2', kind: 'audio', org: 'region-b' });
    const node = await ok(operator.client.get('/api/v1/usage'));
    expect(node).toMatchObject({ scope: 'node', ports: 3, byKind: { video: 1, audio: 1, browser: 1 }, limits: { maxPorts: 200 } });
    expect(node.orgs).toEqual(expect.arrayContaining([{ org: 'region-a', ports: 1, quota: null }, { org: 'region-b', ports: 2, quota: 10 }]));
    expect(await ok(adminA.client.get('/api/v1/usage'))).toEqual({ scope: 'organisation', orgs: [{ org: 'region-a', ports: 1, quota: null }] });
    expect((await bookerA.client.get('/api/v1/usage')).status).toBe(403);
  });

  it('the audit log names the organisation an operator acted on', async () => {
    const entries = await ok(operator.client.get('/api/v1/audit?org=region-b&actor=' + encodeURIComponent(`cert:${operator.fingerprint.slice(0, 16)}`)));
    expect(entries.map((e: { action: string }) => e.action)).toContain('createOrganisation');
  });

  it('org-admins may not create accounts outside the node\'s realm', async () => {
    expect((await adminA.client.post('/api/v1/accounts', { username: 'x1', password: 'sip-secret-1', realm: 'elsewhere.example' })).status).toBe(403);
  });
});

describe('organisation scoping: an org-admin of A can neither read nor change anything of B', () => {
  // Region B's resources, made by B's own org-admin.
  const b: Record<string, string> = {};
  beforeAll(async () => {
    b.user = (await ok(adminB.client.post('/api/v1/users', { username: 'bertil', displayName: 'Bertil B', role: 'booker', password: 'bertils password' }), 201)).id;
    b.token = (await ok(adminB.client.post('/api/v1/tokens', { userId: b.user, label: 'b script' }), 201)).id;
    b.account = (await ok(adminB.client.post('/api/v1/accounts', { username: 'ep-b-1', password: 'sip-secret-b', aliases: ['+46501111'] }), 201)).id;
    b.room = (await ok(adminB.client.post('/api/v1/rooms', { id: 'room-b', name: 'Room B', hostPin: '9876', aliases: ['+46509876'] }), 201)).id;
    b.template = (await ok(adminB.client.post('/api/v1/templates', { name: 'b-standard', smsText: '{{link}}', emailSubject: 'x', emailText: 'y' }), 201)).id;
    b.booking = (await ok(adminB.client.post('/api/v1/bookings', { title: 'B meeting', start: iso(hour), end: iso(2 * hour), participants: [{ name: 'Bo', phone: '+4522222222' }] }), 201)).id;
  });

  const attempts: Array<[string, string, () => string, (() => unknown)?]> = [
    ['GET', 'organisation', () => '/api/v1/organisations/region-b'],
    ['PATCH', 'organisation', () => '/api/v1/organisations/region-b', () => ({ displayName: 'Hacked' })],
    ['POST', 'organisation blocks', () => '/api/v1/organisations/region-b/blocks', () => ({ prefix: '+4659' })],
    ['POST', 'organisation domains', () => '/api/v1/organisations/region-b/domains', () => ({ domain: 'hacked.example' })],
    ['DELETE', 'organisation domain', () => '/api/v1/organisations/region-b/domains/b.example'],
    ['GET', 'users of B', () => '/api/v1/users?org=region-b'],
    ['POST', 'user in B', () => '/api/v1/users', () => ({ org: 'region-b', username: 'mole', displayName: 'Mole', role: 'org-admin' })],
    ['GET', 'user', () => `/api/v1/users/${b.user}`],
    ['PATCH', 'user', () => `/api/v1/users/${b.user}`, () => ({ password: 'taken over now' })],
    ['DELETE', 'user', () => `/api/v1/users/${b.user}`],
    ['GET', 'tokens of B', () => '/api/v1/tokens?org=region-b'],
    ['POST', 'token for a user of B', () => '/api/v1/tokens', () => ({ userId: b.user, label: 'steal' })],
    ['DELETE', 'token', () => `/api/v1/tokens/${b.token}`],
    ['GET', 'client certificates', () => '/api/v1/client-certificates'],
    ['POST', 'client certificate for B', () => '/api/v1/client-certificates', () => ({ fingerprint: 'ab'.repeat(32), org: 'region-b', role: 'org-admin', label: 'x' })],
    ['GET', 'accounts of B', () => '/api/v1/accounts?org=region-b'],
    ['POST', 'account in B', () => '/api/v1/accounts', () => ({ org: 'region-b', username: 'mole', password: 'sip-secret-x' })],
    ['GET', 'account', () => `/api/v1/accounts/${b.account}`],
    ['DELETE', 'account', () => `/api/v1/accounts/${b.account}`],
    ['PUT', 'account password', () => `/api/v1/accounts/${b.account}/password`, () => ({ password: 'taken-over-1' })],
    ['POST', 'account alias', () => `/api/v1/accounts/${b.account}/aliases`, () => ({ alias: '+46501112' })],
    ['DELETE', 'account alias', () => `/api/v1/accounts/${b.account}/aliases/+46501111`],
    ['GET', 'rooms of B', () => '/api/v1/rooms?org=region-b'],
    ['POST', 'room in B', () => '/api/v1/rooms', () => ({ org: 'region-b', name: 'Mole room' })],
    ['GET', 'room', () => `/api/v1/rooms/${b.room}`],
    ['PATCH', 'room', () => `/api/v1/rooms/${b.room}`, () => ({ hostPin: null })],
    ['DELETE', 'room', () => `/api/v1/rooms/${b.room}`],
    ['PUT', 'room logo', () => `/api/v1/rooms/${b.room}/logo`, () => ({ contentType: 'image/png', data: PNG_1x1.toString('base64') })],
    ['DELETE', 'room logo', () => `/api/v1/rooms/${b.room}/logo`],
    ['POST', 'room alias', () => `/api/v1/rooms/${b.room}/aliases`, () => ({ alias: '+46501234' })],
    ['DELETE', 'room alias', () => `/api/v1/rooms/${b.room}/aliases/+46509876`],
    ['GET', 'bookings of B', () => '/api/v1/bookings?org=region-b'],
    ['POST', 'booking in B', () => '/api/v1/bookings', () => ({ org: 'region-b', title: 'x', start: iso(hour), end: iso(2 * hour), participants: [{ name: 'x' }] })],
    ['GET', 'booking', () => `/api/v1/bookings/${b.booking}`],
    ['DELETE', 'booking', () => `/api/v1/bookings/${b.booking}`],
    ['GET', 'booking invitations', () => `/api/v1/bookings/${b.booking}/invitations`],
    ['GET', 'outbox of B', () => '/api/v1/outbox?org=region-b'],
    ['GET', 'templates of B', () => '/api/v1/templates?org=region-b'],
    ['POST', 'template in B', () => '/api/v1/templates', () => ({ org: 'region-b', name: 'mole', smsText: 'x', emailSubject: 'y', emailText: 'z' })],
    ['GET', 'template', () => `/api/v1/templates/${b.template}`],
    ['PATCH', 'template', () => `/api/v1/templates/${b.template}`, () => ({ smsText: 'phishing {{link}}' })],
    ['DELETE', 'template', () => `/api/v1/templates/${b.template}`],
    ['GET', 'audit log', () => '/api/v1/audit?org=region-b'],
  ];

  it.each(attempts)('%s %s is refused (403/404) and B is unchanged', async (method, _what, path, body) => {
    const before = db.prepare("SELECT (SELECT count(*) FROM api_users) || '/' || (SELECT count(*) FROM api_tokens) || '/' || (SELECT count(*) FROM rooms) || '/' || (SELECT count(*) FROM registrar_accounts) || '/' || (SELECT count(*) FROM dialplan_aliases) || '/' || (SELECT count(*) FROM api_templates) || '/' || (SELECT count(*) FROM api_bookings WHERE status = 'booked') || '/' || (SELECT count(*) FROM dialplan_domains) || '/' || (SELECT count(*) FROM api_room_logos)").pluck().get();
    const r = await adminA.client.request(method, path(), body?.());
    expect([403, 404]).toContain(r.status);
    expect(r.headers['content-type']).toBe('application/problem+json');
    // nothing of B's data in the answer (the 404 may echo the caller's own path)
    expect(r.text).not.toMatch(/Bertil|Room B|B meeting|b-standard|\+4522222222|bertils/);
    const after = db.prepare("SELECT (SELECT count(*) FROM api_users) || '/' || (SELECT count(*) FROM api_tokens) || '/' || (SELECT count(*) FROM rooms) || '/' || (SELECT count(*) FROM registrar_accounts) || '/' || (SELECT count(*) FROM dialplan_aliases) || '/' || (SELECT count(*) FROM api_templates) || '/' || (SELECT count(*) FROM api_bookings WHERE status = 'booked') || '/' || (SELECT count(*) FROM dialplan_domains) || '/' || (SELECT count(*) FROM api_room_logos)").pluck().get();
    expect(after).toBe(before);
  });

  it('lists of A never contain B\'s resources', async () => {
    for (const path of ['/api/v1/users', '/api/v1/tokens', '/api/v1/accounts', '/api/v1/rooms', '/api/v1/bookings', '/api/v1/templates', '/api/v1/outbox', '/api/v1/organisations', '/api/v1/usage']) {
      const r = await ok(adminA.client.get(path));
      expect(JSON.stringify(r), path).not.toMatch(/region-b|Bertil|ep-b-1|room-b|B meeting/);
    }
  });

  it('B\'s org-admin still sees all of B unchanged, and the operator sees both', async () => {
    expect(await ok(adminB.client.get(`/api/v1/rooms/${b.room}`))).toMatchObject({ name: 'Room B', hostPin: true });
    expect(await ok(adminB.client.get(`/api/v1/templates/${b.template}`))).toMatchObject({ smsText: '{{link}}' });
    expect(await ok(adminB.client.get(`/api/v1/organisations/region-b`))).toMatchObject({ displayName: 'Region B', domains: ['b.example'] });
    const orgs = new Set((await ok(operator.client.get('/api/v1/rooms'))).map((r: { org: string }) => r.org));
    expect(orgs).toEqual(new Set(['region-a', 'region-b']));
  });
});

describe('audit log', () => {
  it('records every call with who, organisation, what, when and result; operators query it', async () => {
    const denied = await adminA.client.get('/api/v1/audit');
    expect(denied.status).toBe(403);
    const entries = await ok(operator.client.get('/api/v1/audit?limit=1000'));
    expect(entries.length).toBeGreaterThan(50);
    const signIn = entries.find((e: { action: string; status: number }) => e.action === 'signIn' && e.status === 201);
    expect(signIn).toMatchObject({ actor: 'user:anna', method: 'POST', path: '/api/v1/session' });
    const refusedForeign = entries.find((e: { action: string; path: string; status: number }) => e.action === 'getRoom' && e.path === '/api/v1/rooms/room-b' && e.status === 404);
    expect(refusedForeign).toMatchObject({ actor: `cert:${adminA.fingerprint.slice(0, 16)}`, org: 'region-a', role: 'org-admin' });
    const unauth = entries.find((e: { status: number; actor: string }) => e.status === 401 && e.actor === 'anonymous');
    expect(unauth).toBeDefined();
    expect(entries[0]).toMatchObject({ action: 'queryAudit', status: 403 }); // newest first: the refused query above
    const onlyB = await ok(operator.client.get('/api/v1/audit?org=region-b'));
    expect(onlyB.length).toBeGreaterThan(0);
    expect(onlyB.every((e: { org: string }) => e.org === 'region-b')).toBe(true);
    expect((await operator.client.get('/api/v1/audit?limit=0')).status).toBe(400);
  });

  it('is append-only: UPDATE and DELETE are refused by the database; only the retention job deletes', () => {
    expect(() => db.prepare("UPDATE api_audit SET actor = 'nobody'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM api_audit').run()).toThrow(/append-only/);
    const n = db.prepare('SELECT count(*) FROM api_audit').pluck().get() as number;
    db.exec("INSERT INTO api_audit (at, actor, action, method, path, status) VALUES ('2001-01-01T00:00:00.000Z', 'old', 'x', 'GET', '/', 200)");
    const r = api.runRetention();
    expect(r.auditDeleted).toBe(1);
    expect(db.prepare('SELECT count(*) FROM api_audit').pluck().get()).toBe(n);
    expect(db.prepare('SELECT open FROM api_audit_gate').pluck().get()).toBe(0);
    expect(() => db.prepare('DELETE FROM api_audit').run()).toThrow(/append-only/);
  });

  it('retention pseudonymises participants and outbox copies of old meetings', async () => {
    const booking = await ok(bookerA.client.post('/api/v1/bookings', { title: 'Old', start: iso(hour), end: iso(2 * hour), participants: [{ name: 'Karen Secret', phone: '+4533333333', email: 'karen@example.com' }] }), 201);
    // make it an old meeting
    db.prepare("UPDATE api_bookings SET start_at = '2001-01-01T10:00:00.000Z', end_at = '2001-01-01T11:00:00.000Z' WHERE id = ?").run(booking.id);
    db.prepare("UPDATE api_outbox SET created_at = '2001-01-01T09:00:00.000Z' WHERE booking_id = ?").run(booking.id);
    const r = api.runRetention();
    expect(r.bookingsPseudonymised).toBe(1);
    expect(r.messagesPseudonymised).toBe(2);
    const after = await ok(bookerA.client.get(`/api/v1/bookings/${booking.id}`));
    expect(after.participants).toEqual([{ name: 'participant 1', role: 'guest' }]);
    const inv = await ok(bookerA.client.get(`/api/v1/bookings/${booking.id}/invitations`));
    expect(JSON.stringify(inv)).not.toMatch(/Karen|3333|karen@/);
  });
});

describe('contract', () => {
  it('every response of this run matched the OpenAPI document', () => {
    expect(api.stats.requests).toBeGreaterThan(150);
    expect(api.stats.responseValidationFailures).toBe(0);
  });
});
