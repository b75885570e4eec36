/**
 * `npm run bench -- api`: booking creations per second through the administration API with
 * mutual TLS (a client certificate from a test CA), schema validation and the audit log on,
 * against GET /healthz on the same listener and the same connections as the baseline.
 * Store: a SQLite file in WAL mode, as on a node. Concurrency 8 over keep-alive TLS 1.3
 * connections; 3 rounds of each, medians reported. Each booking creates a one-time room with
 * two scrypt-hashed PINs, its participants and two invitations in the outbox.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ApiClient } from '../src/api/v1/client.js';
import { parseApiConfig } from '../src/api/v1/config.js';
import { startApiServer } from '../src/api/v1/server.js';
import { createCa, createClientCertificate, createServerCertificate } from '../src/cli/cert.js';
import { DialPlanStore } from '../src/dialplan/index.js';
import { AccountStore } from '../src/registrar/accounts.js';
import { registrarMigrations } from '../src/registrar/migrations.js';
import { RoomStore } from '../src/rooms/store.js';
import { migrate, openDatabase } from '../src/store/database.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 3;
const CONCURRENCY = 8;
const HEALTH_REQUESTS = Number(process.env.BENCH_API_HEALTH_REQUESTS ?? 3000);
const BOOKINGS = Number(process.env.BENCH_API_BOOKINGS ?? 300);

async function timed(n: number, one: (i: number) => Promise<number>): Promise<{ perSec: number; p50Ms: number; failed: number }> {
  const lat: number[] = [];
  let next = 0;
  let failed = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        const status = await one(i);
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status >= 300) failed++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  return { perSec: n / seconds, p50Ms: lat[Math.floor(lat.length / 2)] as number, failed };
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'knude-bench-api-'));
  const db = openDatabase(join(dir, 'knude.db'));
  let api: Awaited<ReturnType<typeof startApiServer>> | undefined;
  let client: ApiClient | undefined;
  try {
    createCa({ outDir: join(dir, 'ca') });
    createServerCertificate({ caDir: join(dir, 'ca'), names: ['localhost', '127.0.0.1'], outDir: join(dir, 'server') });
    const cert = createClientCertificate({ caDir: join(dir, 'ca'), org: 'region-bench', role: 'booker', outDir: join(dir, 'booker') });
    migrate(db, registrarMigrations);
    const plan = new DialPlanStore(db);
    plan.createOrg({ name: 'region-bench', displayName: 'Region Bench' });
    plan.addBlock('region-bench', '+4640');
    plan.addDomain('region-bench', 'bench.example');
    api = await startApiServer({
      config: parseApiConfig({ port: 0, clientCaFile: join(dir, 'ca', 'ca.crt'), rateLimit: { burst: 100_000, perSecond: 100_000 } }),
      db,
      plan,
      rooms: new RoomStore(plan),
      accounts: new AccountStore(db),
      sipDomain: 'bench.example',
      dataDir: dir,
      log: pino({ level: 'silent' }),
      tls: { cert: readFileSync(join(dir, 'server', 'server.crt')), key: readFileSync(join(dir, 'server', 'server.key')) },
    });
    api.services.identity.mapCertificate({ fingerprint: cert.fingerprint, org: 'region-bench', role: 'booker', label: 'bench' });
    client = new ApiClient({ port: api.port, ca: readFileSync(join(dir, 'ca', 'ca.crt')), cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) });
    const c = client;
    // warm-up: TLS sessions, prepared statements, JIT
    await timed(200, async () => (await c.get('/healthz')).status);
    await timed(20, async () => (await c.post('/api/v1/bookings', booking(0))).status);

    const health: Array<Awaited<ReturnType<typeof timed>>> = [];
    const bookings: Array<Awaited<ReturnType<typeof timed>>> = [];
    for (let r = 0; r < ROUNDS; r++) {
      health.push(await timed(HEALTH_REQUESTS, async () => (await c.get('/healthz')).status));
      bookings.push(await timed(BOOKINGS, async (i) => (await c.post('/api/v1/bookings', booking(r * BOOKINGS + i))).status));
    }
    const auditRows = db.prepare('SELECT count(*) FROM api_audit').pluck().get() as number;
    const row = (label: string, rs: typeof health, audited: string) => ({
      case: label,
      'req/s': Math.round(median(rs.map((x) => x.perSec))),
      'p50 ms': Number(median(rs.map((x) => x.p50Ms)).toFixed(2)),
      failed: rs.reduce((n, x) => n + x.failed, 0),
      audited,
    });
    const rows = [row('GET /healthz (baseline)', health, 'no'), row('POST /api/v1/bookings', bookings, `yes (${auditRows} rows)`)];
    return {
      name: 'api',
      rows,
      ratio: (rows[1]?.['req/s'] as number) / (rows[0]?.['req/s'] as number),
      ratioLabel: `booking creations/s ÷ GET /healthz req/s, same mTLS listener and connections, concurrency ${CONCURRENCY} (higher is better; a booking also hashes two PINs with scrypt and writes room, aliases, participants, outbox and audit)`,
    };
  } finally {
    client?.close();
    await api?.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function booking(i: number): unknown {
  const start = Date.now() + 3600_000 + i * 60_000;
  return {
    title: `Bench meeting ${i}`,
    start: new Date(start).toISOString(),
    end: new Date(start + 1800_000).toISOString(),
    participants: [
      { name: 'Host', email: 'host@bench.example', role: 'host' },
      { name: 'Guest', phone: '+4512345678' },
    ],
  };
}
