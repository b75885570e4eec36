import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { AbuseBlocks } from '../../src/api/v1/abuse.js';
import { ApiConfigError, defaultApiConfig, parseApiConfig } from '../../src/api/v1/config.js';
import { IdentityStore } from '../../src/api/v1/identity.js';
import { apiMigrations } from '../../src/api/v1/migrations.js';
import { RateLimiter } from '../../src/api/v1/rate-limit.js';
import { Router, RouteTableError } from '../../src/api/v1/router.js';
import { addCertCommands, CertCommandError, createCa, createClientCertificate } from '../../src/cli/cert.js';
import { migrate, openDatabase } from '../../src/store/database.js';

describe('ApiConfig', () => {
  it('defaults: 127.0.0.1:8443, no client CA, no SMS gateway', () => {
    expect(parseApiConfig()).toEqual(defaultApiConfig);
    expect(defaultApiConfig).toMatchObject({ address: '127.0.0.1', port: 8443, clientCaFile: null, smsGateway: null });
  });

  it('fills gateway defaults and normalises URLs', () => {
    const c = parseApiConfig({ smsGateway: { url: 'https://sms.example/send' }, publicUrl: 'https://video.example.dk/' });
    expect(c.smsGateway).toEqual({ url: 'https://sms.example/send', token: null, maxAttempts: 5, backoffMs: 500, timeoutMs: 10_000 });
    expect(c.publicUrl).toBe('https://video.example.dk');
  });

  it.each([
    [{ port: 70000 }, /api.port must be a whole number 0-65535/],
    [{ certFile: '/x.crt' }, /certFile and api.keyFile go together/],
    [{ rateLimit: { burst: 0 } }, /rateLimit.burst/],
    [{ rateLimit: { burst: 5, perHour: 1 } }, /rateLimit.perHour is not a setting/],
    [{ smsGateway: { url: 'ftp://x' } }, /smsGateway.url must be an http/],
    [{ smsGateway: 'yes' }, /smsGateway must be an object/],
    [{ tokenLifetime: 5 }, /api.tokenLifetime is not a setting/],
    [{ auditRetentionDays: 0 }, /auditRetentionDays/],
    [{ enabled: 'yes' }, /enabled must be true or false/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseApiConfig(raw)).toThrow(ApiConfigError);
    expect(() => parseApiConfig(raw)).toThrow(message);
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then refills at perSecond, per key', () => {
    let now = 0;
    const rl = new RateLimiter({ burst: 3, perSecond: 0.5 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    expect(rl.take('a')).toBe(2); // one token takes 2 s at 0.5/s
    expect(rl.take('b')).toBe(0);
    now += 2000;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBeGreaterThanOrEqual(1);
    now += 60_000;
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0, 2]); // capped at burst
  });
});

describe('AbuseBlocks.isBlocked', () => {
  it('IPv4/IPv6 addresses and ranges, accounts case-insensitively, expiry, survives a restart', () => {
    const db = openDatabase(':memory:');
    migrate(db, apiMigrations);
    let now = new Date('2030-01-01T00:00:00Z');
    const blocks = new AbuseBlocks(db, () => now);
    blocks.block({ kind: 'ip', value: '203.0.113.7', reason: 'scan', createdBy: 't' });
    blocks.block({ kind: 'ip', value: '2001:db8::/32', reason: 'flood', createdBy: 't' });
    blocks.block({ kind: 'account', value: 'Alice@Video.example.dk', reason: 'fraud', until: '2030-01-01T01:00:00Z', createdBy: 't' });
    expect(blocks.isBlocked({ ip: '203.0.113.7' })).toBe(true);
    expect(blocks.isBlocked({ ip: '203.0.113.8' })).toBe(false);
    expect(blocks.isBlocked({ ip: '2001:db8:1::5' })).toBe(true);
    expect(blocks.isBlocked({ ip: 'not-an-ip' })).toBe(false);
    expect(blocks.isBlocked({ account: 'alice@video.example.dk' })).toBe(true);
    expect(blocks.isBlocked({})).toBe(false);
    expect(new AbuseBlocks(db, () => now).isBlocked({ ip: '203.0.113.7' })).toBe(true);
    now = new Date('2030-01-01T02:00:00Z');
    expect(blocks.isBlocked({ account: 'alice@video.example.dk' })).toBe(false);
    expect(() => blocks.block({ kind: 'ip', value: '10.0.0.0/33', reason: 'x', createdBy: 't' })).toThrow(/not an IP address/);
    expect(() => blocks.block({ kind: 'account', value: 'no-realm', reason: 'x', createdBy: 't' })).toThrow(/user@realm/);
  });
});

describe('IdentityStore', () => {
  it('tokens expire; certificates map by fingerprint in any spelling', () => {
    const db = openDatabase(':memory:');
    migrate(db, apiMigrations);
    let now = new Date('2030-01-01T00:00:00Z');
    const ids = new IdentityStore(db, () => now);
    const u = ids.createUser({ org: 'o1', username: 'u1', displayName: 'U', role: 'booker' });
    const { token } = ids.issueToken(u.id, 't', 60);
    expect(ids.principalForToken(token)).toMatchObject({ org: 'o1', role: 'booker', actor: 'user:u1' });
    now = new Date('2030-01-01T00:01:00Z');
    expect(ids.principalForToken(token)).toBeUndefined();
    const fp = 'AB:'.repeat(31) + 'AB';
    ids.mapCertificate({ fingerprint: fp, org: 'o1', role: 'org-admin', label: 'x' });
    expect(ids.principalForCertificate('ab'.repeat(32))).toMatchObject({ org: 'o1', role: 'org-admin', via: 'certificate' });
    expect(() => ids.mapCertificate({ fingerprint: 'zz', org: 'o1', role: 'booker', label: 'x' })).toThrow(/64 hex digits/);
    expect(() => ids.createUser({ org: null, username: 'u2', displayName: 'U', role: 'booker' })).toThrow(/belongs to an organisation/);
  });
});

describe('Router', () => {
  it('refuses a route table with a resource route that declares no owner', () => {
    const handler = () => ({});
    expect(() => new Router([{ method: 'GET', path: '/api/v1/things/{id}', operationId: 'x', summary: 'x', tag: 't', roles: ['org-admin'], response: { status: 200 }, handler }])).toThrow(RouteTableError);
    // operator-only routes have no organisation to scope to
    expect(() => new Router([{ method: 'GET', path: '/api/v1/things/{id}', operationId: 'x', summary: 'x', tag: 't', roles: ['operator'], response: { status: 200 }, handler }])).not.toThrow();
    const r = new Router([{ method: 'GET', path: '/api/v1/things/{id}', operationId: 'x', summary: 'x', tag: 't', roles: ['booker'], owner: () => 'o', response: { status: 200 }, handler }]);
    expect(r.match('GET', '/api/v1/things/a%40b')).toMatchObject({ params: { id: 'a@b' } });
    expect(r.match('POST', '/api/v1/things/a')).toEqual({ methods: ['GET'] });
    expect(r.match('GET', '/api/v1/things/%E0%A4%A')).toBeUndefined();
    expect(r.match('GET', '/api/v1/things/a/b')).toBeUndefined();
  });
});

describe('knude cert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knude-cert-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a CA and client certificates through the commander program', async () => {
    const out: string[] = [];
    const program = new Command().exitOverride();
    addCertCommands(program, { write: (t) => void out.push(t) });
    await program.parseAsync(['cert', 'ca', '--out', join(dir, 'ca')], { from: 'user' });
    await program.parseAsync(['cert', 'client', '--ca', join(dir, 'ca'), '--org', 'region-skane', '--role', 'booker', '--out', join(dir, 'c1')], { from: 'user' });
    const ca = new X509Certificate(readFileSync(join(dir, 'ca', 'ca.crt')));
    const client = new X509Certificate(readFileSync(join(dir, 'c1', 'client.crt')));
    expect(ca.ca).toBe(true);
    expect(client.ca).toBe(false);
    expect(client.checkIssued(ca)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.subject).toContain('O=region-skane');
    expect(client.subject).toContain('OU=booker');
    expect(client.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
    const mapping = JSON.parse(readFileSync(join(dir, 'c1', 'mapping.json'), 'utf8'));
    expect(mapping).toEqual({ fingerprint: client.fingerprint256.replace(/:/g, '').toLowerCase(), org: 'region-skane', role: 'booker', label: 'region-skane booker client' });
    expect(out.join('')).toContain(`sha256 fingerprint: ${mapping.fingerprint}`);
    expect(statSync(join(dir, 'ca', 'ca.key')).mode & 0o077).toBe(0);
  });

  it('cert register maps a certificate in the node\'s store', async () => {
    const db = openDatabase(':memory:');
    const { DialPlanStore } = await import('../../src/dialplan/index.js');
    const plan = new DialPlanStore(db);
    plan.createOrg({ name: 'region-skane' });
    const out: string[] = [];
    const program = new Command().exitOverride();
    addCertCommands(program, { write: (t) => void out.push(t), withStore: (_cmd, fn) => fn({ plan }) });
    await program.parseAsync(['cert', 'register', '--mapping', join(dir, 'c1', 'mapping.json')], { from: 'user' });
    const fp = JSON.parse(readFileSync(join(dir, 'c1', 'mapping.json'), 'utf8')).fingerprint as string;
    expect(new IdentityStore(db).principalForCertificate(fp)).toMatchObject({ org: 'region-skane', role: 'booker' });
    expect(out.join('')).toBe(`certificate ${fp} mapped to region-skane as booker\n`);
    await expect(program.parseAsync(['cert', 'register', '--mapping', join(dir, 'c1', 'mapping.json')], { from: 'user' })).rejects.toThrow(/already mapped/);
    await expect(program.parseAsync(['cert', 'register', '--cert', join(dir, 'ca', 'ca.crt'), '--role', 'booker', '--org', 'nowhere'], { from: 'user' })).rejects.toThrow(/no organisation named "nowhere"/);
    await program.parseAsync(['cert', 'register', '--cert', join(dir, 'ca', 'ca.crt'), '--role', 'operator'], { from: 'user' });
    expect(out.at(-1)).toMatch(/mapped to all organisations as operator/);
  });

  it('refuses what it cannot make', () => {
    expect(() => createCa({ outDir: join(dir, 'ca') })).toThrow(/already holds a CA/);
    expect(() => createClientCertificate({ caDir: join(dir, 'none'), org: 'x1', role: 'booker', outDir: join(dir, 'c2') })).toThrow(/holds no CA/);
    expect(() => createClientCertificate({ caDir: join(dir, 'ca'), org: null, role: 'booker', outDir: join(dir, 'c2') })).toThrow(CertCommandError);
    expect(() => createClientCertificate({ caDir: join(dir, 'ca'), org: 'x1', role: 'admin' as 'booker', outDir: join(dir, 'c2') })).toThrow(/role must be one of/);
    expect(() => createClientCertificate({ caDir: join(dir, 'ca'), org: 'x1', role: 'booker', outDir: join(dir, 'c2'), commonName: 'a/CN=evil' })).toThrow(/name/);
    expect(existsSync(join(dir, 'c2', 'client.crt'))).toBe(false);
  });
});
