/**
 * `npm run bench -- admission`: what admission control adds to a call's set-up time under
 * load. SIPp places B2BUA calls (account -> account, INVITE/407/INVITE/100/180/200/ACK/BYE; the
 * callee a SIPp UAS registered with digest auth) at CALL_RATE calls/s through a knude node on
 * its real SIP stack; every call's set-up time (first INVITE to the 200, SIPp's own `rtd`,
 * -trace_rtt) is collected, and the median and p99 compared between:
 *  - admission off: the same node with its ledger's reserve() answering "admitted" at once
 *    (the node has no switch to turn admission off, so the bench swaps the method on the
 *    ledger instance the INVITE pipeline holds; everything else is the same code path);
 *  - the SQLite ledger (the default store), limits set high enough never to refuse but all of
 *    them checked (ports, licences, media capacity, organisation quota);
 *  - the PostgreSQL ledger (POSTGRES_URL, default the local test cluster) in a fresh schema.
 * The cases alternate within each of ROUNDS rounds so machine noise falls on all of them; a
 * case's added latency is its round's median (p99) minus the admission-off run's of the same
 * round, and the table shows medians over the rounds. SIPp measures in whole milliseconds, so
 * beside the end-to-end figures the time each INVITE spends awaiting reserve() (on the path
 * between the authenticated INVITE and the B leg's INVITE) and each BYE awaiting release() is
 * timed in-process (the ledger instance's methods wrapped), the no-op of the off case too: what
 * an INVITE waits for admission, in µs, and (minus the off row) the ledger's own share.
 *
 * ratio = set-up median with the SQLite ledger ÷ set-up median with admission off, per round,
 * median over the rounds (lower is better; 1.0 = nothing measurable added).
 * Bounded: every SIPp run has a call count and a hard time limit; the schema and data
 * directories are removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { CapacityLedger, ReserveResult } from '../src/capacity/index.js';
import { freePort } from '../test/helpers/ports.js';
import { runSipp, scenarioPath, startSippServer, stopAll } from '../test/helpers/sipp.js';
import { startKnude, type TestNode } from '../test/integration/knude-harness.js';
import { median, percentile } from './_stats.js';
import type { BenchResult } from './types.js';

const CALL_RATE = Number(process.env.BENCH_ADMISSION_CALL_RATE ?? 200);
const SECONDS = 4;
const ROUNDS = 5;
const PG_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const LIMITS = { maxPorts: 100_000, maxLicences: 100_000, mediaCapacity: 100_000, defaultOrgQuota: 100_000 };

/**
 * Times reserve() and release() of the ledger instance the node's INVITE pipeline holds; `off`
 * makes both no-ops that answer at once. The no-ops are timed the same way, so the off case
 * shows what awaiting any answer costs on the node's busy event loop (other calls' work runs
 * in between), and the ledger's own share is the difference.
 */
class LedgerProbe {
  readonly reserveUs: number[] = [];
  readonly releaseUs: number[] = [];
  private off = false;
  private readonly realReserve: CapacityLedger['reserve'];

  constructor(ledger: CapacityLedger) {
    this.realReserve = ledger.reserve.bind(ledger);
    const admitted = async (req: Parameters<CapacityLedger['reserve']>[0]): Promise<ReserveResult> =>
      ({ ok: true, reservation: { legId: req.legId, kind: req.kind, org: req.org, licences: 0, media: 0, reservedAt: new Date(), release: async () => {} } }) as ReserveResult;
    ledger.reserve = async (req) => {
      const t0 = performance.now();
      const r = this.off ? await admitted(req) : await this.realReserve(req);
      this.reserveUs.push((performance.now() - t0) * 1000);
      if (!r.ok) return r;
      const realRelease = r.reservation.release.bind(r.reservation);
      r.reservation.release = async () => {
        const t1 = performance.now();
        await realRelease();
        this.releaseUs.push((performance.now() - t1) * 1000);
      };
      return r;
    };
  }

  set admissionOff(v: boolean) {
    this.off = v;
  }

  reset(): void {
    this.reserveUs.length = 0;
    this.releaseUs.length = 0;
  }
}

interface Case {
  label: string;
  node: TestNode;
  probe: LedgerProbe;
  off: boolean;
  medians: number[];
  p99s: number[];
  done: number[];
  failed: number[];
  reserveUs: number[];
  releaseUs: number[];
}

/**
 * The per-call set-up times (ms) SIPp wrote with -trace_rtt as `<scenario name>_<pid>_rtt.csv`
 * into its working directory (it has no option to put it elsewhere); the files are removed.
 */
function takeRtts(scenarioName: string): number[] {
  const out: number[] = [];
  for (const f of readdirSync(process.cwd()).filter((n) => n.startsWith(`${scenarioName}_`) && n.endsWith('_rtt.csv'))) {
    const file = join(process.cwd(), f);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    rmSync(file, { force: true });
    // Header: Date_ms;response_time_ms;rtd_no
    for (const line of lines.slice(1)) {
      const v = Number(line.split(';')[1]);
      if (Number.isFinite(v)) out.push(v);
    }
  }
  return out;
}

async function oneRun(c: Case, bobPort: number): Promise<void> {
  const calls = CALL_RATE * SECONDS;
  // A copy of the scenario under a name of its own, so the rtt file SIPp writes is ours alone.
  const dir = mkdtempSync(join(tmpdir(), 'knude-bench-admission-'));
  const name = `knude-bench-admission-${randomBytes(4).toString('hex')}`;
  try {
    const scenario = join(dir, `${name}.xml`);
    copyFileSync(scenarioPath('uac-call.xml'), scenario);
    c.probe.admissionOff = c.off;
    c.probe.reset();
    const uas = await startSippServer({ scenario: 'uas-answer.xml', localPort: bobPort, service: 'bob', count: calls, traceMessages: false, keepTraces: 'never', timeoutMs: (SECONDS + 60) * 1000 });
    const r = await runSipp({
      scenario,
      target: c.node.sip,
      service: 'bob',
      auth: { user: 'alice', password: 'alice-pw' },
      authUri: `bob@${c.node.sip}`,
      keys: { from_user: 'alice', hold_ms: 0 },
      count: calls,
      rate: CALL_RATE,
      concurrency: 3000,
      traceMessages: false,
      keepTraces: 'never',
      timeoutMs: (SECONDS + 60) * 1000,
      extraArgs: ['-trace_rtt', '-rtt_freq', '1'],
    });
    await uas.stop();
    const rtts = takeRtts(name);
    if (rtts.length === 0) throw new Error(`${c.label}: SIPp wrote no response times (${r.successful} calls done)`);
    c.medians.push(median(rtts));
    c.p99s.push(percentile(rtts, 0.99));
    c.done.push(r.successful);
    c.failed.push(r.failed + (calls - r.successful - r.failed));
    if (c.probe.reserveUs.length === 0) throw new Error(`${c.label}: the INVITE pipeline never consulted the ledger`);
    c.reserveUs.push(...c.probe.reserveUs);
    c.releaseUs.push(...c.probe.releaseUs);
  } finally {
    takeRtts(name);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const schema = `knude_bench_adm_${randomBytes(4).toString('hex')}`;
  const quiet = { log: { level: 'warn', format: 'json' } };
  const nodes: TestNode[] = [];
  try {
    const sqliteNode = await startKnude({ overrides: { ...quiet, capacity: { ...LIMITS, store: 'sqlite' } } });
    nodes.push(sqliteNode);
    const pgNode = await startKnude({ overrides: { ...quiet, capacity: { ...LIMITS, store: 'postgres', postgresUrl: PG_URL, postgresSchema: schema } } });
    nodes.push(pgNode);
    const bobPort = await freePort('both');
    for (const k of nodes) {
      k.addAccount('bench', 'alice', 'alice-pw');
      k.addAccount('bench', 'bob', 'bob-pw');
      const reg = await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: bobPort, service: 'bob', auth: { user: 'bob', password: 'bob-pw' }, keys: { expires: 3600 }, timeoutMs: 10_000 });
      if (!reg.ok) throw new Error('could not register the bench callee');
    }
    const sqliteProbe = new LedgerProbe(sqliteNode.node.capacity);
    const pgProbe = new LedgerProbe(pgNode.node.capacity);
    const mk = (label: string, node: TestNode, probe: LedgerProbe, off: boolean): Case => ({ label, node, probe, off, medians: [], p99s: [], done: [], failed: [], reserveUs: [], releaseUs: [] });
    const off = mk('admission off (baseline)', sqliteNode, sqliteProbe, true);
    const sqlite = mk('admission, SQLite ledger', sqliteNode, sqliteProbe, false);
    const postgres = mk('admission, PostgreSQL ledger', pgNode, pgProbe, false);
    const cases = [off, sqlite, postgres];
    // A short warm-up of each path (JIT, connection pools, SQLite pages), not counted.
    for (const c of cases) {
      const warm: Case = { ...c, medians: [], p99s: [], done: [], failed: [], reserveUs: [], releaseUs: [] };
      await oneRun(warm, bobPort);
    }
    for (let i = 0; i < ROUNDS; i++) for (const c of cases) await oneRun(c, bobPort);

    // Each round's case is compared with the admission-off run of the same round (paired:
    // a noisy stretch of the machine moves both), then the median over the rounds is taken.
    const added = (c: Case, of: 'medians' | 'p99s') => median(c[of].map((v, i) => v - off[of][i]!));
    const rows = cases.map((c) => ({
      case: c.label,
      'calls/s': CALL_RATE,
      'done (per round)': c.done.join(' '),
      'failed (per round)': c.failed.join(' '),
      'setup p50 ms': Number(median(c.medians).toFixed(2)),
      'setup p99 ms': Number(median(c.p99s).toFixed(2)),
      'added p50 ms': c.off ? '' : Number(added(c, 'medians').toFixed(2)),
      'added p99 ms': c.off ? '' : Number(added(c, 'p99s').toFixed(2)),
      'reserve p50/p99 µs': `${Math.round(median(c.reserveUs))}/${Math.round(percentile(c.reserveUs, 0.99))}`,
      'release p50/p99 µs': `${Math.round(median(c.releaseUs))}/${Math.round(percentile(c.releaseUs, 0.99))}`,
    }));
    return {
      name: 'admission',
      rows,
      ratio: median(sqlite.medians.map((v, i) => v / off.medians[i]!)),
      ratioLabel: `median call set-up time (first INVITE to 200, SIPp rtd, 1 ms resolution) with admission on the SQLite ledger ÷ the same with admission off, paired per round, median of ${ROUNDS} rounds at ${CALL_RATE} calls/s through the B2BUA (lower is better; 1.0 = admission adds nothing measurable)`,
    };
  } finally {
    await stopAll();
    for (const k of nodes) await k.stop().catch(() => {});
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect().then(
      () => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.end()),
      () => {},
    );
  }
}
