/**
 * `npm run bench -- ras`: H.323 gatekeeper RAS transactions per second over UDP loopback.
 *  - RRQ/RCF: full registrations, ENDPOINTS endpoints each re-registering in a loop (one request
 *    in flight per endpoint), aliases checked against the plan (an organisation's number block);
 *  - ARQ/ACF + DRQ/DCF: a registered endpoint admits a call to another one (routing through the
 *    dial plan, a reservation in the SQLite capacity ledger) and disengages it at once;
 *  - the baseline: the same datagrams, the same clients, sent to a UDP echo server in this
 *    process (what the loopback and the event loop cost with no RAS work at all).
 * ROUNDS timed rounds of ROUND_MS per case; medians. Bounded: a request not answered in 1 s
 * counts as lost and the client goes on.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseCapacityConfig } from '../src/capacity/config.js';
import { SqliteCapacityLedger } from '../src/capacity/sqlite.js';
import { DialPlanRouter } from '../src/dialplan/router.js';
import { DialPlanStore } from '../src/dialplan/store.js';
import { parseGatekeeperConfig } from '../src/h323/config.js';
import { startGatekeeper } from '../src/h323/gatekeeper.js';
import { H225_PROTOCOL_ID, decodeRas, encodeRas, ipv4Address, type RasMessage } from '../src/h323/ras.js';
import { openDatabase } from '../src/store/database.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 3;
const ROUND_MS = 2_000;
const ENDPOINTS = 32;

/** One UDP client that keeps exactly one request in flight and counts completed exchanges. */
class Client {
  private pending: ((data: Buffer) => void) | null = null;
  private constructor(readonly socket: Socket) {
    socket.on('message', (data) => {
      const p = this.pending;
      this.pending = null;
      p?.(data);
    });
  }

  static async open(): Promise<Client> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    return new Client(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  exchange(data: Buffer, port: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending = null;
        resolve(null);
      }, 1000);
      this.pending = (d) => {
        clearTimeout(t);
        resolve(d);
      };
      this.socket.send(data, port, '127.0.0.1');
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

function rrq(c: Client, n: number, seq: number): Buffer {
  return encodeRas({
    registrationRequest: {
      requestSeqNum: seq,
      protocolIdentifier: H225_PROTOCOL_ID,
      discoveryComplete: false,
      callSignalAddress: [ipv4Address('127.0.0.1', c.port + 1)],
      rasAddress: [ipv4Address('127.0.0.1', c.port)],
      terminalType: { terminal: {}, mc: false, undefinedNode: false },
      terminalAlias: [{ dialedDigits: `46401${String(n).padStart(5, '0')}` }],
      endpointVendor: { vendor: { t35CountryCode: 9, t35Extension: 0, manufacturerCode: 61 }, productId: Buffer.from('bench') },
      timeToLive: 600,
      keepAlive: false,
      willSupplyUUIEs: false,
      maintainConnection: false,
    },
  });
}

function arq(endpointIdentifier: string, dest: string, call: number, seq: number): Buffer {
  const guid = Buffer.alloc(16);
  guid.writeUInt32BE(call, 12);
  return encodeRas({
    admissionRequest: {
      requestSeqNum: seq,
      callType: { pointToPoint: null },
      endpointIdentifier,
      destinationInfo: [{ dialedDigits: dest }],
      srcInfo: [{ dialedDigits: '4640100000' }],
      bandWidth: 7680,
      callReferenceValue: call & 0xffff,
      conferenceID: guid,
      activeMC: false,
      answerCall: false,
      canMapAlias: false,
      callIdentifier: { guid },
      willSupplyUUIEs: false,
      canMapSrcAlias: false,
    },
  });
}

function drq(endpointIdentifier: string, call: number, seq: number): Buffer {
  const guid = Buffer.alloc(16);
  guid.writeUInt32BE(call, 12);
  return encodeRas({
    disengageRequest: {
      requestSeqNum: seq,
      endpointIdentifier,
      conferenceID: guid,
      callReferenceValue: call & 0xffff,
      disengageReason: { normalDrop: null },
      callIdentifier: { guid },
      answeredCall: false,
    },
  });
}

/** Runs `step` on every client in a loop for ROUND_MS; returns completed steps per second and losses. */
async function round(clients: Client[], step: (c: Client, i: number, k: number) => Promise<boolean>): Promise<{ rate: number; lost: number }> {
  const end = performance.now() + ROUND_MS;
  let done = 0;
  let lost = 0;
  const start = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; performance.now() < end; k++) {
        if (await step(c, i, k)) done++;
        else lost++;
      }
    }),
  );
  return { rate: done / ((performance.now() - start) / 1000), lost };
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'knude-bench-ras-'));
  const db = openDatabase(join(dir, 'ras.db'));
  const plan = new DialPlanStore(db);
  plan.updateSettings({ ownDomains: ['video.example.se'] });
  plan.createOrg({ name: 'bench' });
  plan.addBlock('bench', '+46401');
  const ledger = new SqliteCapacityLedger(db, parseCapacityConfig({}));
  const gk = await startGatekeeper({ router: new DialPlanRouter(plan), plan, capacity: ledger, config: parseGatekeeperConfig({ port: 0, maxTimeToLive: 3600 }), log: pino({ level: 'warn' }) });
  const echo = createSocket('udp4');
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  echo.on('message', (data, from) => echo.send(data, from.port, from.address));
  const echoPort = echo.address().port;
  const clients = await Promise.all(Array.from({ length: ENDPOINTS }, () => Client.open()));
  const seqs = clients.map(() => 0);
  const nextSeq = (i: number) => (seqs[i] = (seqs[i]! % 65535) + 1);

  const cases = {
    rrq: { label: 'knude RRQ/RCF', rates: [] as number[], lost: [] as number[] },
    rrqEcho: { label: 'echo of the same RRQs (baseline)', rates: [] as number[], lost: [] as number[] },
    arq: { label: 'knude ARQ/ACF + DRQ/DCF', rates: [] as number[], lost: [] as number[] },
    arqEcho: { label: 'echo of the same ARQs+DRQs (baseline)', rates: [] as number[], lost: [] as number[] },
  };
  try {
    const isType = (data: Buffer | null, type: string) => data !== null && type in (decodeRas(data) as RasMessage);
    for (let r = 0; r < ROUNDS; r++) {
      const a = await round(clients, async (c, i) => isType(await c.exchange(rrq(c, i, nextSeq(i)), gk.port), 'registrationConfirm'));
      cases.rrq.rates.push(a.rate);
      cases.rrq.lost.push(a.lost);
      const b = await round(clients, async (c, i) => (await c.exchange(rrq(c, i, nextSeq(i)), echoPort)) !== null);
      cases.rrqEcho.rates.push(b.rate);
      cases.rrqEcho.lost.push(b.lost);
    }
    // Every client is registered now; each calls the next one's number.
    const ids: string[] = [];
    for (const [i, c] of clients.entries()) {
      const answer = decodeRas((await c.exchange(rrq(c, i, nextSeq(i)), gk.port))!);
      if (!('registrationConfirm' in answer)) throw new Error(`bench endpoint ${i} could not register: ${JSON.stringify(answer)}`);
      ids.push(answer.registrationConfirm.endpointIdentifier);
    }
    const dest = (i: number) => `46401${String((i + 1) % ENDPOINTS).padStart(5, '0')}`;
    let call = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const a = await round(clients, async (c, i) => {
        const n = ++call;
        const ok = isType(await c.exchange(arq(ids[i]!, dest(i), n, nextSeq(i)), gk.port), 'admissionConfirm');
        const dcf = isType(await c.exchange(drq(ids[i]!, n, nextSeq(i)), gk.port), 'disengageConfirm');
        return ok && dcf;
      });
      cases.arq.rates.push(a.rate);
      cases.arq.lost.push(a.lost);
      const b = await round(clients, async (c, i) => {
        const n = ++call;
        const ok = (await c.exchange(arq(ids[i]!, dest(i), n, nextSeq(i)), echoPort)) !== null;
        return ok && (await c.exchange(drq(ids[i]!, n, nextSeq(i)), echoPort)) !== null;
      });
      cases.arqEcho.rates.push(b.rate);
      cases.arqEcho.lost.push(b.lost);
    }
    const left = (await ledger.usage()).ports;
    if (left !== 0) throw new Error(`${left} capacity ports still held after the bench: admissions leak`);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    echo.close();
    await gk.stop();
    await ledger.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = Object.values(cases).map((c) => ({
    case: c.label,
    'median tx/s': Math.round(median(c.rates)),
    'min tx/s': Math.round(Math.min(...c.rates)),
    'lost (per round)': c.lost.join(' '),
  }));
  return {
    name: 'ras',
    rows,
    ratio: median(cases.arq.rates) / median(cases.arqEcho.rates),
    ratioLabel: `knude ARQ/ACF+DRQ/DCF pairs/s ÷ a UDP echo of the same datagrams, ${ENDPOINTS} endpoints one request in flight each (higher is better; 1.0 = RAS work costs nothing)`,
  };
}
