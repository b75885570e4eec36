/**
 * `npm run bench -- sip`: SIP signalling throughput of a knude node under SIPp load.
 *  - REGISTER with digest auth (REGISTER, 401, REGISTER, 200) per second;
 *  - call setup and teardown (INVITE, 407, ACK, INVITE, 100, 180, 200, ACK, BYE, 200 on the
 *    caller's side, the same again towards the callee) through knude's B2BUA, no media;
 *  - the same SIPp call load straight from the UAC to the UAS, as the baseline.
 * Each case runs ROUNDS times at a fixed offered rate; the table shows medians and the failures
 * of every round. Bounded: every SIPp run has a call count and a hard time limit.
 */
import { startKnude } from '../test/integration/knude-harness.js';
import { freePort } from '../test/helpers/ports.js';
import { runSipp, startSippServer, stopAll, type SippResult } from '../test/helpers/sipp.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const ROUNDS = 3;
const SECONDS = 6;
const REGISTER_RATE = Number(process.env.BENCH_SIP_REGISTER_RATE ?? 1200);
const CALL_RATE = Number(process.env.BENCH_SIP_CALL_RATE ?? 300);

/** Completed calls per second of wall time, from SIPp's own start to its last call. */
function rate(r: SippResult): number {
  return r.successful / (r.durationMs / 1000);
}

interface Case {
  label: string;
  offered: number;
  rates: number[];
  failed: number[];
}

export async function run(): Promise<BenchResult> {
  const k = await startKnude({ overrides: { log: { level: 'warn', format: 'json' } } });
  const cases: Case[] = [];
  try {
    k.addAccount('bench', 'alice', 'alice-pw');
    k.addAccount('bench', 'bob', 'bob-pw');

    const reg: Case = { label: 'knude REGISTER+digest', offered: REGISTER_RATE, rates: [], failed: [] };
    for (let i = 0; i < ROUNDS; i++) {
      const r = await runSipp({
        scenario: 'register-auth.xml',
        target: k.sip,
        service: 'alice',
        auth: { user: 'alice', password: 'alice-pw' },
        keys: { expires: 600 },
        count: REGISTER_RATE * SECONDS,
        rate: REGISTER_RATE,
        concurrency: 2000,
        traceMessages: false,
        keepTraces: 'never',
        timeoutMs: (SECONDS + 30) * 1000,
      });
      reg.rates.push(rate(r));
      reg.failed.push(r.failed + (REGISTER_RATE * SECONDS - r.successful - r.failed));
    }
    cases.push(reg);

    // The callee: a SIPp UAS registered as bob, answering every call.
    const bobPort = await freePort('both');
    const bobReg = await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: bobPort, service: 'bob', auth: { user: 'bob', password: 'bob-pw' }, keys: { expires: 3600 }, timeoutMs: 10_000 });
    if (!bobReg.ok) throw new Error('could not register the bench callee');
    const calls = CALL_RATE * SECONDS;
    const viaKnude: Case = { label: 'knude B2BUA call', offered: CALL_RATE, rates: [], failed: [] };
    const direct: Case = { label: 'direct uac -> uas (baseline)', offered: CALL_RATE, rates: [], failed: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const [c, target] of [[viaKnude, 'knude'], [direct, 'direct']] as const) {
        const port = target === 'knude' ? bobPort : await freePort('both');
        const uas = await startSippServer({ scenario: 'uas-answer.xml', localPort: port, service: 'bob', count: calls, traceMessages: false, keepTraces: 'never', timeoutMs: (SECONDS + 60) * 1000 });
        const r = await runSipp({
          scenario: 'uac-call.xml',
          target: target === 'knude' ? k.sip : uas.address,
          service: 'bob',
          auth: { user: 'alice', password: 'alice-pw' },
          authUri: `bob@${target === 'knude' ? k.sip : uas.address}`,
          keys: { from_user: 'alice', hold_ms: 0 },
          count: calls,
          rate: CALL_RATE,
          concurrency: 3000,
          traceMessages: false,
          keepTraces: 'never',
          timeoutMs: (SECONDS + 60) * 1000,
        });
        await uas.stop();
        c.rates.push(rate(r));
        c.failed.push(r.failed + (calls - r.successful - r.failed));
      }
    }
    cases.push(viaKnude, direct);
  } finally {
    await stopAll();
    await k.stop();
  }
  const rows = cases.map((c) => ({
    case: c.label,
    'offered/s': c.offered,
    'median done/s': Math.round(median(c.rates)),
    'min done/s': Math.round(Math.min(...c.rates)),
    'failed (per round)': c.failed.join(' '),
  }));
  const knudeCps = median(cases[1].rates);
  const directCps = median(cases[2].rates);
  return {
    name: 'sip',
    rows,
    ratio: knudeCps / directCps,
    ratioLabel: `knude CPS / direct CPS at ${CALL_RATE} offered calls/s (1.0 = knude keeps up with the offered load; targets: >= 250 calls/s and >= 1,000 REGISTER/s with 0 failed)`,
  };
}
