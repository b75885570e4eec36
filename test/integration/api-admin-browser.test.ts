/**
 * The admin pages in headless Chromium against a real API listener (TLS 1.3, client
 * certificates requested but not held by the browser): sign in, create a room, book a
 * meeting and see it with its invitation status, audit entry of the sign-in. Screenshots go
 * to test-results/.
 */
import { CdrStore, monthlyReport } from '../../src/stats/index.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiConfig } from '../../src/api/v1/config.js';
import { defaultCapacityConfig, SqliteCapacityLedger } from '../../src/capacity/index.js';
import { startApiServer, type ApiHandle } from '../../src/api/v1/server.js';
import { createCa } from '../../src/cli/cert.js';
import { DialPlanStore } from '../../src/dialplan/index.js';
import { AccountStore } from '../../src/registrar/accounts.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';
import { RoomStore } from '../../src/rooms/store.js';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = 'test-results';

describe.skipIf(!existsSync(CHROMIUM))('admin pages in Chromium', () => {
  let dir: string;
  let db: Db;
  let api: ApiHandle;
  let browser: Browser;
  let page: Page;
  let ledger: SqliteCapacityLedger;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'knude-admin-ui-'));
    createCa({ outDir: join(dir, 'ca') });
    db = openDatabase(':memory:');
    migrate(db, registrarMigrations);
    const plan = new DialPlanStore(db);
    plan.createOrg({ name: 'region-a', displayName: 'Region A' });
    plan.addBlock('region-a', '+4640');
    plan.addDomain('region-a', 'a.example');
    ledger = new SqliteCapacityLedger(db, { ...defaultCapacityConfig, orgQuotas: { 'region-a': 20 } });
    await ledger.reserve({ legId: 'leg-1', kind: 'video', org: 'region-a' });
    api = await startApiServer({
      usage: () => ledger.usage(),
      monthlyReport: (month) => monthlyReport({ month, cdr: new CdrStore(db, { node: 'test' }) }) as never,
      config: parseApiConfig({ port: 0, clientCaFile: join(dir, 'ca', 'ca.crt'), publicUrl: 'https://video.example.dk' }),
      db,
      plan,
      rooms: new RoomStore(plan),
      accounts: new AccountStore(db),
      sipDomain: 'video.example.dk',
      dataDir: dir,
      log: pino({ level: 'silent' }),
    });
    api.services.identity.createUser({ org: null, username: 'operator', displayName: 'Operator', role: 'operator', password: 'an operator password' });
    api.services.identity.createUser({ org: 'region-a', username: 'admin-a', displayName: 'Admin A', role: 'org-admin', password: 'a long admin password' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await ledger?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in, refusing a wrong password first', async () => {
    await page.goto(`https://127.0.0.1:${api.port}/admin/`);
    const signIn = page.locator('#sign-in-form');
    await signIn.getByLabel('User name').fill('admin-a');
    await signIn.getByLabel('Password').fill('not the password');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#error').textContent()).toContain('wrong user name or password');
    await signIn.getByLabel('Password').fill('a long admin password');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#who').textContent()).toBe('admin-a · org-admin · region-a');
    await page.screenshot({ path: `${SHOTS}/admin-signed-in.png` });
  });

  it('creates a room and sees it in the list', async () => {
    const form = page.locator('#room-form');
    await form.getByLabel('Name').fill('Akut Lund');
    await form.getByLabel('Host PIN').fill('123456');
    await form.getByLabel('Aliases').fill('+46405000');
    await form.getByRole('button', { name: 'Create room' }).click();
    await expect.poll(() => page.locator('#rooms-table').textContent()).toContain('Akut Lund');
    expect(await page.locator('#rooms-table').textContent()).toContain('+46405000');
    expect(api.services.rooms.get('akut-lund')).toMatchObject({ org: 'region-a', kind: 'permanent' });
    await page.screenshot({ path: `${SHOTS}/admin-rooms.png` });
  });

  it('books a meeting and sees it with its invitations', async () => {
    await page.getByRole('link', { name: 'Bookings' }).click();
    const form = page.locator('#booking-form');
    const pad = (n: number) => String(n).padStart(2, '0');
    const localValue = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    await form.getByLabel('Title').fill('Udskrivningskonference');
    await form.getByLabel('Start').fill(localValue(new Date(Date.now() + 3600_000)));
    await form.getByLabel('End').fill(localValue(new Date(Date.now() + 7200_000)));
    await form.getByLabel('Participant name').fill('Borger Hansen');
    await form.getByLabel('Mobile (E.164)').fill('+4512345678');
    await form.getByLabel('E-mail').fill('hansen@example.com');
    await form.getByRole('button', { name: 'Book' }).click();
    await expect.poll(() => page.locator('#booking-result').textContent()).toMatch(/Booked "Udskrivningskonference": https:\/\/video\.example\.dk\/join\/.* host PIN \d{6}, guest PIN \d{6}/);
    await expect.poll(() => page.locator('#bookings-table').textContent()).toContain('Udskrivningskonference');
    const text = await page.locator('#bookings-table').textContent();
    expect(text).toContain('sms stored');
    expect(text).toContain('email stored');
    expect(text).toContain('Borger Hansen');
    await page.screenshot({ path: `${SHOTS}/admin-bookings.png` });
    expect(api.services.bookings.list({ org: 'region-a' })).toHaveLength(1);
  });

  it('shows the alias plan and users; the sign-in is in the audit log; no page errors', async () => {
    await page.getByRole('link', { name: 'Alias plan' }).click();
    await expect.poll(() => page.locator('#plan-table').textContent()).toContain('+4640');
    await page.getByRole('link', { name: 'Users' }).click();
    await expect.poll(() => page.locator('#users-table').textContent()).toContain('admin-a');
    expect(await page.getByRole('link', { name: 'Audit log' }).isHidden()).toBe(true); // operators only
    await page.getByRole('link', { name: 'Usage' }).click();
    await expect.poll(() => page.locator('#usage-table').textContent()).toContain('region-a');
    expect(await page.getByRole('meter', { name: 'region-a: 1 ports in use' }).count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/admin-usage.png` });
    const logins = api.services.audit.query({ actor: 'user:admin-a' }).filter((e) => e.action === 'signIn');
    expect(logins.map((e) => e.status).sort()).toEqual([201, 401]);
    expect(pageErrors.filter((e) => !/401/.test(e)), pageErrors.join('\n')).toEqual([]);
    expect(api.stats.responseValidationFailures).toBe(0);
  });
  it('an operator sees the audit log, with the org-admin\'s sign-ins, and the whole node\'s usage', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    const signIn = page.locator('#sign-in-form');
    await signIn.getByLabel('User name').fill('operator');
    await signIn.getByLabel('Password').fill('an operator password');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#who').textContent()).toBe('operator · operator');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await expect.poll(() => page.locator('#audit-table').textContent()).toContain('user:admin-a');
    expect(await page.locator('#audit-table').textContent()).toContain('signIn (POST /api/v1/session)');
    await page.screenshot({ path: `${SHOTS}/admin-audit.png` });
    await page.getByRole('link', { name: 'Usage' }).click();
    await expect.poll(() => page.locator('#usage-summary').textContent()).toMatch(/^Node: 1 ports/);
    // The month's charts from the statistics, rendered as images.
    await expect.poll(() => page.locator('#chart-daily-minutes').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(100);
    expect(await page.locator('#kpi-table').textContent()).toMatch(/calls/);
    await page.screenshot({ path: `${SHOTS}/admin-usage-operator.png`, fullPage: true });
    expect(pageErrors.filter((e) => !/401/.test(e))).toEqual([]);
  });
});
