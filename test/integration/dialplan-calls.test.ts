/**
 * Issue 3 against real peers: calls between two organisations' endpoints by E.164 number and
 * by URI, a call into a neighbour zone whose first target is down landing on the second, every
 * target down giving 503, and the policy for external (not connected) callers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { describeSippResult, runSipp, startSippServer, stopAll, type SippResult } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

let k: TestNode;

function expectOk(r: SippResult): void {
  expect(r.ok, describeSippResult(r)).toBe(true);
}

async function registeredEndpoint(user: string, password: string, scenario: string, keys: Record<string, string | number> = {}) {
  const port = await freePort('both');
  expectOk(await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: port, service: user, auth: { user, password }, keys: { expires: 300 }, timeoutMs: 10_000 }));
  return startSippServer({ scenario, localPort: port, service: user, count: 1, keys, timeoutMs: 30_000 });
}

function callFrom(user: string, password: string, dialled: string, scenario: string, keys: Record<string, string | number> = {}) {
  return runSipp({
    scenario,
    target: k.sip,
    service: dialled,
    auth: { user, password },
    authUri: `${dialled}@${k.sip}`,
    keys: { from_user: user, ...keys },
    timeoutMs: 30_000,
  });
}

beforeAll(async () => {
  k = await startKnude({ overrides: { calls: { ringTimeoutSeconds: 20, trunkAttemptTimeoutSeconds: 2 } } });
  const plan = k.node.plan;
  plan.createOrg({ name: 'region-skane', displayName: 'Region Skåne' });
  plan.addBlock('region-skane', '+4640');
  plan.addDomain('region-skane', 'skane.se');
  plan.createOrg({ name: 'region-stockholm', displayName: 'Region Stockholm' });
  plan.addBlock('region-stockholm', '+468');
  plan.addDomain('region-stockholm', 'sll.se');
  plan.createOrg({ name: 'vgregion', displayName: 'Västra Götalandsregionen' });
  plan.addBlock('vgregion', '+4631');
  plan.addDomain('vgregion', 'vgregion.se');
  k.addAccount('region-skane', 'anna', 'anna-pw', ['+46401000', 'anna.svensson@skane.se']);
  k.addAccount('region-stockholm', 'erik', 'erik-pw', ['+4681000', 'erik.lind@sll.se']);
});

afterEach(async () => {
  await stopAll();
  for (const u of ['anna', 'erik']) k.node.bindings.removeAll(`sip:${u}@${k.config.sip.domain}`);
});

afterAll(async () => {
  await stopAll();
  await k?.stop();
});

describe('calls between organisations', () => {
  it('connects Skåne to Stockholm by E.164 number', async () => {
    const erik = await registeredEndpoint('erik', 'erik-pw', 'uas-answer.xml');
    expectOk(await callFrom('anna', 'anna-pw', '+4681000', 'uac-call.xml', { hold_ms: 200 }));
    expectOk(await erik.done);
  });

  it('connects Stockholm to Skåne by URI alias, whatever its case', async () => {
    const anna = await registeredEndpoint('anna', 'anna-pw', 'uas-answer.xml');
    // The Request-URI names the organisation's domain, as a video endpoint dialling a URI does.
    const r = await runSipp({
      scenario: 'uac-call-uri.xml',
      target: k.sip,
      service: 'Anna.Svensson@Skane.SE',
      auth: { user: 'erik', password: 'erik-pw' },
      authUri: 'Anna.Svensson@Skane.SE',
      keys: { from_user: 'erik', hold_ms: 200 },
      timeoutMs: 30_000,
    });
    expectOk(r);
    expectOk(await anna.done);
  });

  it('refuses an external caller reaching an internal endpoint with 403', async () => {
    // An unauthenticated caller from outside the node (its From is not one of our accounts).
    const r = await runSipp({
      scenario: 'uac-expect-status.xml',
      target: k.sip,
      service: '+46401000',
      keys: { from_user: 'guest', expect_status: 403 },
      timeoutMs: 15_000,
    });
    expectOk(r);
  });
});

describe('neighbour zones', () => {
  it('fails over from a target that does not answer to the second target', async () => {
    const deadPort = await freePort('both'); // nothing listens here: the INVITE times out
    const livePort = await freePort('both');
    k.node.plan.putZone({
      name: 'vgr-infra',
      org: 'vgregion',
      targets: [
        { host: '127.0.0.1', port: deadPort, transport: 'udp', priority: 1 },
        { host: '127.0.0.1', port: livePort, transport: 'udp', priority: 2 },
      ],
    });
    const trunk = await startSippServer({ scenario: 'uas-answer.xml', localPort: livePort, service: '+46311234', count: 1, timeoutMs: 30_000 });
    const started = Date.now();
    expectOk(await callFrom('anna', 'anna-pw', '+46311234', 'uac-call.xml', { hold_ms: 200 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000); // the first target had its 2 s
    expectOk(await trunk.done);
  });

  it('fails over on a 503 from the first target', async () => {
    const busyPort = await freePort('both');
    const livePort = await freePort('both');
    k.node.plan.putZone({
      name: 'vgr-infra',
      org: 'vgregion',
      targets: [
        { host: '127.0.0.1', port: busyPort, transport: 'udp', priority: 1 },
        { host: '127.0.0.1', port: livePort, transport: 'udp', priority: 2 },
      ],
    });
    const overloaded = await startSippServer({ scenario: 'uas-reject.xml', localPort: busyPort, count: 1, keys: { reject_status: 503 }, timeoutMs: 30_000 });
    const trunk = await startSippServer({ scenario: 'uas-answer.xml', localPort: livePort, service: '+46311234', count: 1, timeoutMs: 30_000 });
    expectOk(await callFrom('anna', 'anna-pw', '+46311234', 'uac-call.xml', { hold_ms: 200 }));
    expectOk(await overloaded.done);
    expectOk(await trunk.done);
  });

  it('answers 503 when every target of the zone fails', async () => {
    const a = await freePort('both');
    const b = await freePort('both');
    k.node.plan.putZone({
      name: 'vgr-infra',
      org: 'vgregion',
      targets: [
        { host: '127.0.0.1', port: a, transport: 'udp', priority: 1 },
        { host: '127.0.0.1', port: b, transport: 'udp', priority: 2 },
      ],
    });
    const r1 = await startSippServer({ scenario: 'uas-reject.xml', localPort: a, count: 1, keys: { reject_status: 500 }, timeoutMs: 30_000 });
    const r2 = await startSippServer({ scenario: 'uas-reject.xml', localPort: b, count: 1, keys: { reject_status: 503 }, timeoutMs: 30_000 });
    expectOk(await callFrom('anna', 'anna-pw', '+46311234', 'uac-expect-status.xml', { expect_status: 503 }));
    expectOk(await r1.done);
    expectOk(await r2.done);
  });

  it('skips a target the OPTIONS prober marked down, with no delay', async () => {
    const downPort = await freePort('both');
    const livePort = await freePort('both');
    k.node.plan.putZone({
      name: 'vgr-infra',
      org: 'vgregion',
      targets: [
        { host: '127.0.0.1', port: downPort, transport: 'udp', priority: 1 },
        { host: '127.0.0.1', port: livePort, transport: 'udp', priority: 2 },
      ],
    });
    k.node.router.setTargetState('vgr-infra', { host: '127.0.0.1', port: downPort, transport: 'udp' }, 'down');
    const trunk = await startSippServer({ scenario: 'uas-answer.xml', localPort: livePort, service: '+46311234', count: 1, timeoutMs: 30_000 });
    const started = Date.now();
    expectOk(await callFrom('anna', 'anna-pw', '+46311234', 'uac-call.xml', { hold_ms: 200 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expectOk(await trunk.done);
  });
});

describe('calls from a neighbour zone', () => {
  it('trusts a call from a configured target of a zone like its organisation; the same call from elsewhere is external', async () => {
    const trunkPort = await freePort('both');
    k.node.plan.putZone({ name: 'sll-infra', org: 'region-stockholm', targets: [{ host: '127.0.0.1', port: trunkPort, transport: 'udp', priority: 1 }] });
    const anna = await registeredEndpoint('anna', 'anna-pw', 'uas-answer.xml');
    const fromZone = await runSipp({
      scenario: 'uac-call.xml',
      target: k.sip,
      localPort: trunkPort,
      service: '+46401000',
      keys: { from_user: '+4681999', hold_ms: 200 },
      timeoutMs: 20_000,
    });
    expectOk(fromZone);
    expectOk(await anna.done);
    const outsider = await runSipp({ scenario: 'uac-expect-status.xml', target: k.sip, service: '+46401000', keys: { from_user: '+4681999', expect_status: 403 }, timeoutMs: 15_000 });
    expectOk(outsider);
    k.node.plan.removeZone('sll-infra');
  });

  it('refuses with 482 a call from a zone that would go straight back to that zone', async () => {
    const trunkPort = await freePort('both');
    k.node.plan.putZone({ name: 'vgr-infra', org: 'vgregion', targets: [{ host: '127.0.0.1', port: trunkPort, transport: 'udp', priority: 1 }] });
    const r = await runSipp({ scenario: 'uac-expect-status.xml', target: k.sip, localPort: trunkPort, service: '+46311234', keys: { from_user: '+46311000', expect_status: 482 }, timeoutMs: 15_000 });
    expectOk(r);
  });
});

describe('explain', () => {
  it('GET /api/route returns the decision and the rule chain that produced it', async () => {
    const base = `http://127.0.0.1:${k.node.httpPort}/api/route`;
    const ok = await fetch(`${base}?alias=${encodeURIComponent('08-1000')}&from=region-skane`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { action: string; org: string; trace: Array<{ step: string }>; explanation: string };
    expect(body).toMatchObject({ action: 'account', org: 'region-stockholm' });
    expect(body.trace.length).toBeGreaterThan(1);
    expect(body.explanation).toContain('+4681000');

    const ext = (await (await fetch(`${base}?alias=%2B4681000&from=external`)).json()) as { action: string; status: number; reason: string };
    expect(ext).toMatchObject({ action: 'reject', status: 403 });

    const bad = await fetch(`${base}?alias=%2B4681000&from=no-such-org`);
    expect(bad.status).toBe(404);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(((await bad.json()) as { detail: string }).detail).toContain('no-such-org');
    const missing = await fetch(`${base}?from=external`);
    expect(missing.status).toBe(400);
  });
});
