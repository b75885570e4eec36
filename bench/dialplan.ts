/**
 * Dial plan lookup speed at national scale: 100,000 aliases and 10,000 number blocks (100
 * organisations, each with a neighbour zone of two targets), 200,000 mixed dial strings
 * (exact alias hits in several notations, prefix hits to zones, misses). knude's full route()
 * — parse, normalise, transforms, alias map, prefix trie, policy, health, trace — is compared
 * with a bare Map.get of the already-normalised key, the floor any lookup structure has.
 *
 * Rounds are repeated and the median round is reported (bench/README.md: machines are noisy).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../src/store/database.js';
import { DialPlanStore, type AliasInput } from '../src/dialplan/store.js';
import { DialPlanRouter, type RouteCaller } from '../src/dialplan/router.js';
import type { Alias } from '../src/dialplan/types.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const ORGS = 100;
const BLOCKS_PER_ORG = 100; // 10,000 blocks
const ALIASES = 100_000;
const LOOKUPS = 200_000;
const ROUNDS = 5;
/** Stop adding rounds once this much time went into measuring (the whole bench stays < 60 s). */
const MEASURE_BUDGET_MS = 25_000;

const orgName = (o: number) => `org-${String(o).padStart(3, '0')}`;
/** Block i: '46' + 5 digits, all the same length, so no two overlap. */
const blockPrefix = (i: number) => `46${10_000 + i}`;

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** heapUsed once GC has nothing more to free: weak callbacks (e.g. of native statement objects) free in later cycles. */
function heapAfterGc(gc: () => void): number {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    const now = process.memoryUsage().heapUsed;
    if (Math.abs(last - now) < 64 * 1024) return now;
    last = now;
  }
  return last;
}

function buildStore(): { store: DialPlanStore; loadMs: number } {
  const started = performance.now();
  const store = new DialPlanStore(openDatabase(':memory:'));
  store.batch(() => {
    store.updateSettings({ ownDomains: ['video.example.se'], countryCode: '46', nationalPrefix: '0', internationalPrefix: '00' });
    for (let o = 0; o < ORGS; o++) {
      const org = orgName(o);
      store.createOrg({ name: org });
      store.addDomain(org, `${org}.se`);
      for (let b = 0; b < BLOCKS_PER_ORG; b++) store.addBlock(org, blockPrefix(o * BLOCKS_PER_ORG + b));
      store.putZone({
        name: `zone-${o}`,
        org,
        targets: [
          { host: `sbc1.${org}.se`, port: 5061, transport: 'tls', priority: 10 },
          { host: `sbc2.${org}.se`, port: 5061, transport: 'tls', priority: 20 },
        ],
      });
    }
    store.addTransform({ priority: 10, match: '^9(\\d+)$', replace: '+46$1', description: 'outside line' });
    // 80% numbers (8 per block, suffixes 0000-0007), 20% URIs spread over the org domains.
    const inputs: AliasInput[] = [];
    let n = 0; // numbers handed out so far: 0..79,999
    for (let i = 0; i < ALIASES; i++) {
      if (i % 5 === 4) {
        const o = i % ORGS;
        inputs.push({ alias: `user${i}@${orgName(o)}.se`, kind: 'account', target: `user${i}@${orgName(o)}.se`, org: orgName(o) });
      } else {
        const block = Math.floor(n / 8);
        const org = orgName(Math.floor(block / BLOCKS_PER_ORG));
        const kind = n % 10 === 0 ? 'room' : 'account';
        inputs.push({ alias: `+${blockPrefix(block)}${String(n % 8).padStart(4, '0')}`, kind, target: kind === 'room' ? `room-${n}` : `u${n}@${org}.se`, org });
        n++;
      }
    }
    for (let i = 0; i < inputs.length; i += 10_000) store.addAliases(inputs.slice(i, i + 10_000));
  });
  return { store, loadMs: performance.now() - started };
}

interface Lookup {
  dialled: string;
  /** The normalised key a plain Map would be asked for. */
  key: string;
}

/** Deterministic mix: 50% alias hits (various notations), 30% prefix hits, 20% misses. */
function makeLookups(store: DialPlanStore): Lookup[] {
  const aliases = store.listAliases();
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed % n;
  };
  const out: Lookup[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const r = rnd(100);
    if (r < 50) {
      const a = aliases[rnd(aliases.length)]!;
      if (a.alias.startsWith('+')) {
        const nsn = a.alias.slice(3);
        const forms = [a.alias, `sip:${a.alias}@video.example.se`, `0${nsn}`, `9${nsn}`, `tel:${a.alias}`];
        out.push({ dialled: forms[rnd(forms.length)]!, key: a.alias });
      } else {
        out.push({ dialled: rnd(2) === 0 ? `sip:${a.alias}` : a.alias, key: a.alias });
      }
    } else if (r < 80) {
      const n = `+${blockPrefix(rnd(ORGS * BLOCKS_PER_ORG))}${5000 + rnd(5000)}`;
      out.push({ dialled: rnd(2) === 0 ? n : `sip:${n}@video.example.se`, key: n });
    } else if (r < 90) {
      const n = `+4790${String(rnd(1_000_000)).padStart(6, '0')}`;
      out.push({ dialled: n, key: n });
    } else {
      const u = `nobody${rnd(1_000_000)}@video.example.se`;
      out.push({ dialled: `sip:${u}`, key: u });
    }
  }
  return out;
}

interface Round {
  opsPerSec: number;
  medianUs: number;
  p99Us: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/**
 * One round: a throughput pass (no timer per call) and a latency pass (hrtime around each
 * call; the ~50 ns timer cost is included in both implementations' figures alike).
 */
function measure(lookups: Lookup[], op: (l: Lookup) => unknown): Round {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (const l of lookups) if (op(l)) sink++;
  const totalNs = Number(process.hrtime.bigint() - t0);
  const lat = new Float64Array(lookups.length);
  for (let i = 0; i < lookups.length; i++) {
    const s = process.hrtime.bigint();
    if (op(lookups[i]!)) sink++;
    lat[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  lat.sort();
  if (sink < 0) console.log(sink); // keeps the calls from being optimised away
  return { opsPerSec: lookups.length / (totalNs / 1e9), medianUs: percentile(lat, 0.5), p99Us: percentile(lat, 0.99) };
}

export async function run(): Promise<BenchResult> {
  const gc = gcFunction();
  const { store, loadMs } = buildStore();

  // The alias list is made inside makeLookups so no frame of run() keeps it alive (an
  // interpreter register holding it would distort the heap measurements below).
  const lookups = makeLookups(store);

  // Memory of each structure: heapUsed after GC, before and after building it.
  let before = heapAfterGc(gc);
  let started = performance.now();
  const router = new DialPlanRouter(store);
  const indexMs = performance.now() - started;
  const routerHeap = heapAfterGc(gc) - before;

  before = heapAfterGc(gc);
  started = performance.now();
  const map = new Map<string, Alias>();
  for (const a of store.listAliases()) map.set(a.alias, a);
  const mapMs = performance.now() - started;
  const mapHeap = heapAfterGc(gc) - before;

  const from: RouteCaller = { kind: 'account', org: orgName(0), username: 'bench' };
  const routeOp = (l: Lookup) => router.route({ dialled: l.dialled, from }).action !== 'reject';
  const mapOp = (l: Lookup) => map.get(l.key) !== undefined;

  // Sanity: the mix routes the way it is meant to.
  const outcomes: Record<string, number> = {};
  for (const l of lookups) {
    const d = router.route({ dialled: l.dialled, from });
    const k = d.action === 'reject' ? `reject ${d.status}` : d.action;
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  }

  // Warm-up so both are measured optimised.
  measure(lookups.slice(0, 20_000), routeOp);
  measure(lookups.slice(0, 20_000), mapOp);
  const knude: Round[] = [];
  const base: Round[] = [];
  const measureStart = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    knude.push(measure(lookups, routeOp));
    base.push(measure(lookups, mapOp));
    if (performance.now() - measureStart > MEASURE_BUDGET_MS) break;
  }
  const summarize = (rounds: Round[]) => ({
    opsPerSec: median(rounds.map((r) => r.opsPerSec)),
    medianUs: median(rounds.map((r) => r.medianUs)),
    p99Us: median(rounds.map((r) => r.p99Us)),
  });
  const k = summarize(knude);
  const m = summarize(base);
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  const mix = Object.entries(outcomes)
    .sort()
    .map(([a, n]) => `${a} ${((n / lookups.length) * 100).toFixed(0)}%`)
    .join(', ');

  router.close();
  store.db.close();
  return {
    name: 'dialplan',
    rows: [
      {
        case: 'knude route()',
        aliases: ALIASES,
        blocks: ORGS * BLOCKS_PER_ORG,
        lookups: lookups.length,
        rounds: knude.length,
        'routes/s': Math.round(k.opsPerSec),
        'p50 µs': k.medianUs,
        'p99 µs': k.p99Us,
        'heap MB': mb(routerHeap),
        'build ms': Math.round(indexMs),
        notes: `store load ${(loadMs / 1000).toFixed(1)} s; ${mix}`,
      },
      {
        case: 'Map.get baseline',
        aliases: ALIASES,
        blocks: 0,
        lookups: lookups.length,
        rounds: base.length,
        'routes/s': Math.round(m.opsPerSec),
        'p50 µs': m.medianUs,
        'p99 µs': m.p99Us,
        'heap MB': mb(mapHeap),
        'build ms': Math.round(mapMs),
        notes: 'exact key only, already normalised, no prefixes, no policy',
      },
    ],
    ratio: k.opsPerSec / m.opsPerSec,
    ratioLabel: 'knude route() decisions/s ÷ plain Map.get lookups/s on the same 200,000 mixed dial strings (higher is better; 1.0 would mean routing costs no more than a hash lookup)',
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.table(r.rows);
      console.log(`ratio: ${r.ratio.toPrecision(3)} (${r.ratioLabel})`);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
