/**
 * The sipp helper and scenarios, checked sipp-against-sipp on loopback (no knude involved).
 * Every run is bounded: sipp gets -timeout below timeoutMs and is killed at timeoutMs.
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, freePorts, isPortFree } from '../helpers/ports.js';
import {
  SIPP_SCENARIO_DIR,
  checkScenario,
  describeSippResult,
  parseScreenCounts,
  parseStatsCsv,
  runSipp,
  runningSippCount,
  scenarioKeys,
  sendRaw,
  sippAvailable,
  sippSupportsTls,
  splitSipStream,
  startSippServer,
  stopAll,
  type SippResult,
} from '../helpers/sipp.js';

const haveSipp = sippAvailable();
const scenarios = readdirSync(SIPP_SCENARIO_DIR).filter((f) => f.endsWith('.xml')).sort();

function expectOk(r: SippResult): void {
  expect(r.ok, describeSippResult(r)).toBe(true);
}

describe('ports', () => {
  it('freePort returns distinct ports bindable on UDP and TCP', async () => {
    const ports = await freePorts(3);
    expect(new Set(ports).size).toBe(3);
    for (const p of ports) expect(await isPortFree(p, 'both')).toBe(true);
  });

  it('isPortFree sees a bound UDP port and a listening TCP port', async () => {
    const p = await freePort('both');
    const u = dgram.createSocket('udp4');
    await new Promise<void>((r) => u.bind(p, '127.0.0.1', () => r()));
    expect(await isPortFree(p, 'udp')).toBe(false);
    expect(await isPortFree(p, 'both')).toBe(false);
    await new Promise<void>((r) => u.close(() => r()));
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(p, '127.0.0.1', () => r()));
    expect(await isPortFree(p, 'tcp')).toBe(false);
    await new Promise<void>((r) => s.close(() => r()));
    expect(await isPortFree(p, 'both')).toBe(true);
  });
});

describe('parsing helpers', () => {
  it('scenarioKeys reads @key defaults and required keys', () => {
    expect(scenarioKeys('uac-call.xml')).toEqual([
      { name: 'hold_ms', default: '1000' },
      { name: 'from_user', default: 'sipp' },
    ]);
    expect(scenarioKeys('uac-expect-status.xml')).toContainEqual({ name: 'expect_status', default: undefined });
    expect(scenarioKeys('unregister.xml')).toEqual([{ name: 'unreg_contact', default: '*' }]);
    expect(scenarioKeys('options.xml')).toEqual([]);
  });

  it('every [key] used in a scenario is declared with @key in its header', () => {
    // SIPp's own keywords used by our scenarios; anything else in [..] must be a declared key.
    const builtin = new Set([
      'service', 'remote_ip', 'remote_port', 'local_ip', 'local_ip_type', 'local_port', 'transport',
      'branch', 'call_id', 'cseq', 'pid', 'call_number', 'len', 'media_ip', 'media_ip_type',
      'media_port', 'authentication', 'next_url', 'routes', 'peer_tag_param', 'last_cseq_number',
    ]);
    for (const f of scenarios) {
      const declared = new Set(scenarioKeys(f).map((k) => k.name));
      const xml = readFileSync(`${SIPP_SCENARIO_DIR}/${f}`, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
      // keywords are expanded in message text (CDATA) and in <assignstr value="...">
      const texts = [
        ...[...xml.matchAll(/<!\[CDATA\[([\s\S]*?)\]\]>/g)].map((m) => m[1]),
        ...[...xml.matchAll(/<assignstr[^>]*value="([^"]*)"/g)].map((m) => m[1]),
      ].join('\n');
      for (const m of texts.matchAll(/\[([A-Za-z][\w-]*)\]/g)) {
        const name = m[1];
        if (builtin.has(name) || name.startsWith('last_')) continue;
        expect(declared.has(name), `${f} uses [${name}] without @key`).toBe(true);
      }
    }
  });

  it('runSipp refuses to start without a required key', async () => {
    await expect(
      runSipp({ scenario: 'uac-expect-status.xml', target: '127.0.0.1:9', timeoutMs: 2000 }),
    ).rejects.toThrow(/expect_status/);
  });

  it('parseStatsCsv takes the last row; parseScreenCounts the last screen', () => {
    const csv = 'A;SuccessfulCall(C);FailedCall(C);\n1;0;0;\n2;5;1;\n';
    expect(parseStatsCsv(csv)).toMatchObject({ A: '2', 'SuccessfulCall(C)': '5', 'FailedCall(C)': '1' });
    const screen =
      '  Successful call        |        0                  |        1   \n  Failed call            |        0                  |        0\n' +
      '  Successful call        |        2                  |        3   \n  Failed call            |        1                  |        4\n';
    expect(parseScreenCounts(screen)).toEqual({ successful: 3, failed: 4 });
  });

  it('splitSipStream reassembles by Content-Length and skips CRLF keep-alives', () => {
    const a = 'SIP/2.0 200 OK\r\nContent-Length: 4\r\n\r\nabcd';
    const b = 'OPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\n';
    const { messages, rest } = splitSipStream(Buffer.from(`\r\n\r\n${a}${b}SIP/2.0 180`));
    expect(messages.map((m) => m.toString())).toEqual([a, b]);
    expect(rest.toString()).toBe('SIP/2.0 180');
  });
});

describe.skipIf(!haveSipp)('sipp scenarios (sipp against sipp)', () => {
  afterEach(async () => {
    await stopAll(1000);
  });
  afterAll(async () => {
    await stopAll(1000);
    expect(runningSippCount()).toBe(0);
  });

  it.each(scenarios)('%s loads in sipp', async (f) => {
    const r = await checkScenario(f, { expect_status: 486 });
    expect(r.ok, `${f}: exit ${r.exitCode}\n${r.output.slice(0, 1500)}`).toBe(true);
  });

  it.each(['udp', 'tcp'] as const)('uac-call -> uas-answer over %s: 2 calls, counts right', async (transport) => {
    const uas = await startSippServer({ scenario: 'uas-answer.xml', transport, count: 2, timeoutMs: 15_000 });
    const uac = await runSipp({
      scenario: 'uac-call.xml',
      target: uas.address,
      transport,
      count: 2,
      rate: 10,
      service: 'bob',
      keys: { hold_ms: 200, from_user: 'alice' },
      timeoutMs: 8000,
    });
    expectOk(uac);
    expect(uac.successful).toBe(2);
    expect(uac.failed).toBe(0);
    expect(uac.statsCsv?.['OutgoingCall(C)']).toBe('2');
    const server = await uas.done; // -m 2: the UAS exits by itself after its 2nd call
    expectOk(server);
    expect(server.successful).toBe(2);
    expect(server.statsCsv?.['IncomingCall(C)']).toBe('2');
    expect(uac.traceDir).toBeUndefined(); // traces of a good run are removed
  });

  it('uac-call-savp -> uas-answer-savp succeeds', async () => {
    const uas = await startSippServer({ scenario: 'uas-answer-savp.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-call-savp.xml', target: uas.address, keys: { hold_ms: 100 }, timeoutMs: 6000 });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it('uac-call-savp fails against a plain RTP/AVP answer (SRTP answer check)', async () => {
    const uas = await startSippServer({ scenario: 'uas-answer.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-call-savp.xml', target: uas.address, keys: { hold_ms: 100 }, timeoutMs: 6000 });
    expect(uac.ok).toBe(false);
    expect(uac.failed).toBe(1);
    expect(uac.statsCsv?.['FailedRegexpDoesntMatch(C)']).toBe('1');
    // traces of a failed run are kept for inspection (removed here: the failure is intended)
    expect(uac.traceDir).toBeDefined();
    expect(readdirSync(uac.traceDir as string)).toContain('uac-call-savp.messages.log');
    rmSync(uac.traceDir as string, { recursive: true, force: true });
  });

  it('uac-late-offer-auth -> uas-offer-in-200: the offer in the 200, the answer in the ACK', async () => {
    const uas = await startSippServer({ scenario: 'uas-offer-in-200.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-late-offer-auth.xml', target: uas.address, timeoutMs: 8000 });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it('uac-late-offer-auth fails when the outcome is not the expected one', async () => {
    const uas = await startSippServer({ scenario: 'uas-offer-in-200.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-late-offer-auth.xml', target: uas.address, keys: { expect: 'refused' }, timeoutMs: 8000 });
    expect(uac.ok).toBe(false);
    expect(uac.failed).toBe(1);
    await uas.done;
    if (uac.traceDir) rmSync(uac.traceDir, { recursive: true, force: true });
  });

  it('uas-offer-in-200 fails when the ACK does not carry an SRTP answer', async () => {
    const uas = await startSippServer({ scenario: 'uas-offer-in-200.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-late-offer-auth.xml', target: uas.address, keys: { answer_proto: 'RTP/AVP' }, timeoutMs: 8000 });
    const server = await uas.done;
    expect(server.ok).toBe(false);
    expect(server.failed).toBe(1);
    for (const r of [uac, server]) if (r.traceDir) rmSync(r.traceDir, { recursive: true, force: true });
  });

  it('uac-offerless-reinvite -> uas-offerless-reinvite: a fresh offer in the 200, the answer in the ACK', async () => {
    const uas = await startSippServer({ scenario: 'uas-offerless-reinvite.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-offerless-reinvite.xml', target: uas.address, keys: { hold_ms: 100 }, timeoutMs: 8000 });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it('uac-recv-bye <- uas-bye: the callee hangs up', async () => {
    const uas = await startSippServer({ scenario: 'uas-bye.xml', count: 1, keys: { hold_ms: 200 }, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-recv-bye.xml', target: uas.address, timeoutMs: 6000 });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it.each(['udp', 'tcp'] as const)('uac-cancel -> uas-ring-no-answer over %s succeeds', async (transport) => {
    const uas = await startSippServer({ scenario: 'uas-ring-no-answer.xml', transport, count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({
      scenario: 'uac-cancel.xml',
      target: uas.address,
      transport,
      keys: { cancel_after_ms: 100 },
      timeoutMs: 6000,
    });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it('uac-cancel fails (quickly, cleanly) when the callee answers first', async () => {
    const uas = await startSippServer({ scenario: 'uas-answer.xml', count: 1, keys: { ring_ms: 50 }, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-cancel.xml', target: uas.address, keys: { cancel_after_ms: 300 }, timeoutMs: 6000, keepTraces: 'never' });
    expect(uac.ok).toBe(false);
    expect(uac.failed).toBe(1);
    expect(uac.durationMs).toBeLessThan(4000);
  });

  it('uac-expect-status 486 -> uas-busy succeeds', async () => {
    const uas = await startSippServer({ scenario: 'uas-busy.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-expect-status.xml', target: uas.address, keys: { expect_status: 486 }, timeoutMs: 6000 });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it('uac-expect-status 404 -> uas-busy (486) fails', async () => {
    const uas = await startSippServer({ scenario: 'uas-busy.xml', count: 1, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-expect-status.xml', target: uas.address, keys: { expect_status: 404 }, timeoutMs: 6000, keepTraces: 'never' });
    expect(uac.ok).toBe(false);
    expect(uac.failed).toBe(1);
    expect(uac.errors ?? '').toMatch(/strcmp status:"486" and expected:"404"/);
    expectOk(await uas.done); // the 486 was still ACKed
  });

  it('uac-expect-status 603 -> uas-reject 603 succeeds', async () => {
    const uas = await startSippServer({ scenario: 'uas-reject.xml', count: 1, keys: { reject_status: 603 }, timeoutMs: 10_000 });
    const uac = await runSipp({ scenario: 'uac-expect-status.xml', target: uas.address, keys: { expect_status: 603 }, timeoutMs: 6000 });
    expectOk(uac);
    expectOk(await uas.done);
  });

  it('uac-call against a UDP port with nothing listening reports failure, not a hang', async () => {
    const port = await freePort('both');
    const r = await runSipp({ scenario: 'uac-call.xml', target: `127.0.0.1:${port}`, timeoutMs: 3000, keepTraces: 'never' });
    expect(r.ok).toBe(false);
    expect(r.successful).toBe(0);
    expect(r.exitCode).not.toBe(0);
    expect(r.timedOut || r.killed || r.failed > 0).toBe(true);
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('uac-call against a TCP port with nothing listening fails fast', async () => {
    const port = await freePort('both');
    const r = await runSipp({ scenario: 'uac-call.xml', target: `127.0.0.1:${port}`, transport: 'tcp', timeoutMs: 3000, keepTraces: 'never' });
    expect(r.ok).toBe(false);
    expect(r.successful).toBe(0);
    expect(r.durationMs).toBeLessThan(3000);
  });

  it('startSippServer reports a port it cannot bind', async () => {
    const port = await freePort('udp');
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((r) => holder.bind(port, '127.0.0.1', () => r()));
    try {
      await expect(startSippServer({ scenario: 'uas-answer.xml', localPort: port, timeoutMs: 5000, keepTraces: 'never' })).rejects.toThrow(
        /exited before listening/,
      );
    } finally {
      holder.close();
    }
  });

  it('stop() ends a server that is still waiting for calls', async () => {
    const uas = await startSippServer({ scenario: 'uas-answer.xml', timeoutMs: 10_000 });
    expect(runningSippCount()).toBe(1);
    const r = await uas.stop(1000);
    expect(r.stopped).toBe(true);
    expect(r.killed).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(r.successful).toBe(0);
    expect(r.failed).toBe(0);
    expect(r.durationMs).toBeLessThan(5000);
    expect(runningSippCount()).toBe(0);
  });

  it('sendRaw over UDP to a sipp uas returns within the bounded wait', async () => {
    const uas = await startSippServer({ scenario: 'uas-answer.xml', timeoutMs: 10_000 });
    const t0 = Date.now();
    const r = await sendRaw(uas.address, 'udp', ['NOT SIP AT ALL\r\n\r\n', Buffer.from([0, 1, 2, 255])], { waitMs: 500 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(Array.isArray(r.messages)).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(450);
  });

  it('sendRaw over TCP gets a reply from a tiny server and stops early with expectReplies', async () => {
    const port = await freePort('tcp');
    const srv = net.createServer((s) =>
      s.on('data', () => s.write('SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n')),
    );
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    try {
      const r = await sendRaw(`127.0.0.1:${port}`, 'tcp', ['GARBAGE\r\n\r\n'], { waitMs: 3000, expectReplies: 1 });
      expect(r.messages).toEqual(['SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n']);
      expect(r.durationMs).toBeLessThan(1500);
      const refused = await sendRaw(`127.0.0.1:${await freePort('tcp')}`, 'tcp', ['x'], { waitMs: 200 });
      expect(refused.errors.join(' ')).toMatch(/ECONNREFUSED/);
    } finally {
      srv.close();
    }
  });

  it('reports whether this sipp build can do TLS', () => {
    // Debian's sip-tester 3.6.1 is built without OpenSSL; knude TLS tests must skip on it.
    expect(typeof sippSupportsTls()).toBe('boolean');
  });
});
