import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { importPlan } from '../../src/dialplan/document.js';
import { EXAMPLE_PLAN_YAML } from '../../src/dialplan/example-plan.js';
import { classifyProbe, optionsRequestUri, srfOptionsSender, ZoneProber, type ProbeTarget, type ProberLog, type SrfOptionsClient, type ZoneProberOptions } from '../../src/dialplan/prober.js';
import { DialPlanRouter, type RouteCaller } from '../../src/dialplan/router.js';
import { DialPlanStore } from '../../src/dialplan/store.js';
import { openDatabase } from '../../src/store/database.js';

// The example plan: sll (sbc1/sbc2.sll.se, tls 5061), skane (10.40.0.11/12, tcp 5060),
// gateway (gw1.inera.se, tls 5061): five targets.
const SBC1 = 'tls:sbc1.sll.se:5061';
const SBC2 = 'tls:sbc2.sll.se:5061';
const SK1 = 'tcp:10.40.0.11:5060';
const GW = 'tls:gw1.inera.se:5061';
const vgr: RouteCaller = { kind: 'account', org: 'vgregion', username: 'carl' };

type Behaviour = number | 'hang' | 'timeout' | 'throw' | 'reject' | (() => Promise<number>);

let store: DialPlanStore;
let router: DialPlanRouter;
let log: { info: Mock<ProberLog['info']>; debug: Mock<ProberLog['debug']> };
/** What each host answers; default 200. */
let behaviour: Map<string, Behaviour>;
let calls: ProbeTarget[];
let inFlight: number;
let maxInFlight: number;
let prober: ZoneProber | undefined;

function fakeSend(target: ProbeTarget, timeoutMs: number): Promise<number> {
  calls.push(target);
  const b = behaviour.get(target.host) ?? 200;
  if (b === 'throw') throw new Error('socket closed');
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  const p: Promise<number> =
    typeof b === 'number'
      ? Promise.resolve(b)
      : b === 'timeout'
        ? new Promise((r) => setTimeout(() => r(408), timeoutMs))
        : b === 'hang'
          ? new Promise(() => {})
          : b === 'reject'
            ? Promise.reject(new Error('ECONNREFUSED'))
            : b();
  return p.finally(() => {
    inFlight--;
  });
}

function make(opts: Partial<ZoneProberOptions> = {}): ZoneProber {
  prober = new ZoneProber({ router, sendOptions: fakeSend, log, ...opts });
  return prober;
}

function state(zone: string, key: string): string | undefined {
  return router.zoneTargets(zone)?.find((t) => t.key === key)?.state;
}

/** The transition log lines ("... is up/down ..."), in order. */
function transitions(): string[] {
  return log.info.mock.calls.map((c) => c[1] as string).filter((m) => / is (up|down)/.test(m));
}

function sllHosts(): string[] | undefined {
  const d = router.route({ dialled: '+46812345', from: vgr });
  return d.action === 'zone' ? d.targets.map((t) => t.host) : undefined;
}

beforeEach(() => {
  vi.useFakeTimers();
  store = new DialPlanStore(openDatabase(':memory:'));
  importPlan(store, EXAMPLE_PLAN_YAML);
  router = new DialPlanRouter(store);
  log = { info: vi.fn<ProberLog['info']>(), debug: vi.fn<ProberLog['debug']>() };
  behaviour = new Map();
  calls = [];
  inFlight = 0;
  maxInFlight = 0;
  prober = undefined;
});

afterEach(() => {
  prober?.stop();
  router.close();
  vi.useRealTimers();
});

describe('reading OPTIONS answers', () => {
  it.each([
    [200, true],
    [202, true],
    [302, true],
    [401, true],
    [403, true],
    [404, true],
    [405, true],
    [480, true],
    [500, true],
    [502, true],
    [603, true],
    [408, false],
    [503, false],
    [100, false],
    [0, false],
    [700, false],
  ])('%i alive: %s', (status, ok) => {
    expect(classifyProbe(status, 5000).ok).toBe(ok);
  });
});

describe('ZoneProber transitions', () => {
  it('probes every zone target and the gateway, and reports them up', async () => {
    const p = make();
    expect(router.zoneTargets('sll')!.every((t) => t.state === 'unknown')).toBe(true);
    await p.probeNow();
    expect(calls.map((c) => `${c.transport}:${c.host}:${c.port}`).sort()).toEqual([SK1, 'tcp:10.40.0.12:5060', GW, SBC1, SBC2].sort());
    for (const z of router.zones()) for (const t of z.targets) expect(t.state).toBe('up');
    expect(transitions()).toHaveLength(5);
    expect(transitions()).toContain(`zone sll target ${SBC1} is up: OPTIONS answered 200`);
    expect(log.info.mock.calls.find((c) => (c[0] as { target: string }).target === GW)![0]).toMatchObject({ zone: 'gateway', org: null, from: 'unknown', to: 'up', status: 200 });
    const st = p.status();
    expect(st.rounds).toBe(1);
    expect(st.targets).toHaveLength(5);
    expect(st.targets.find((t) => t.key === SBC1)).toMatchObject({ zone: 'sll', org: 'region-stockholm', state: 'up', lastStatus: 200, probes: 1, failures: 0 });
  });

  it('counts 4xx/5xx/6xx answers (other than 408/503) as alive', async () => {
    behaviour.set('sbc1.sll.se', 404).set('sbc2.sll.se', 405).set('10.40.0.11', 500).set('10.40.0.12', 603).set('gw1.inera.se', 401);
    const p = make({ failuresToDown: 1 });
    await p.probeNow();
    await p.probeNow();
    for (const z of router.zones()) for (const t of z.targets) expect(t.state).toBe('up');
    expect(transitions().find((m) => m.includes(SBC1))).toMatch(/OPTIONS answered 404, peer is alive/);
  });

  it('goes down after failuresToDown consecutive failures, logging the transition once with its reason', async () => {
    const p = make({ failuresToDown: 2 });
    await p.probeNow();
    expect(sllHosts()).toEqual(['sbc1.sll.se', 'sbc2.sll.se']);
    behaviour.set('sbc1.sll.se', 503);
    await p.probeNow();
    expect(state('sll', SBC1)).toBe('up'); // one failure is not enough
    await p.probeNow();
    expect(state('sll', SBC1)).toBe('down');
    expect(sllHosts()).toEqual(['sbc2.sll.se']);
    await p.probeNow();
    await p.probeNow();
    const down = transitions().filter((m) => m.includes(SBC1) && m.includes('is down'));
    expect(down).toEqual([`zone sll target ${SBC1} is down (was up): OPTIONS answered 503 (service unavailable or transport error); 2 consecutive failures`]);
    const entry = log.info.mock.calls.find((c) => (c[1] as string).includes('is down'))![0];
    expect(entry).toMatchObject({ zone: 'sll', org: 'region-stockholm', target: SBC1, from: 'up', to: 'down', status: 503 });
    expect(p.status().targets.find((t) => t.key === SBC1)).toMatchObject({ state: 'down', consecutiveFailures: 4, failures: 4, probes: 5 });
  });

  it('a success in between resets the failure count (hysteresis)', async () => {
    const p = make({ failuresToDown: 3 });
    const seq = [503, 408, 200, 503, 503, 200, 503, 503, 503];
    for (const s of seq) {
      behaviour.set('10.40.0.11', s);
      await p.probeNow();
      if (s !== 503 || p.status().targets.find((t) => t.key === SK1)!.consecutiveFailures < 3) expect(state('skane', SK1)).not.toBe('down');
    }
    expect(state('skane', SK1)).toBe('down');
    expect(transitions().filter((m) => m.includes(SK1))).toEqual([
      expect.stringMatching(/is up: OPTIONS answered 200$/),
      expect.stringMatching(/is down \(was up\): .*3 consecutive failures$/),
    ]);
  });

  it('comes back up only after successesToUp consecutive successes', async () => {
    const p = make({ failuresToDown: 1, successesToUp: 2 });
    behaviour.set('gw1.inera.se', 503);
    await p.probeNow();
    expect(state('gateway', GW)).toBe('down');
    behaviour.set('gw1.inera.se', 200);
    await p.probeNow();
    expect(state('gateway', GW)).toBe('down');
    behaviour.set('gw1.inera.se', 408);
    await p.probeNow();
    behaviour.set('gw1.inera.se', 200);
    await p.probeNow();
    expect(state('gateway', GW)).toBe('down'); // the 408 reset the success count
    await p.probeNow();
    expect(state('gateway', GW)).toBe('up');
    expect(router.route({ dialled: 'sip:someone@example.com', from: vgr })).toMatchObject({ action: 'gateway' });
    expect(transitions().filter((m) => m.includes(GW))).toEqual([
      `zone gateway target ${GW} is down: OPTIONS answered 503 (service unavailable or transport error); 1 consecutive failure`,
      `zone gateway target ${GW} is up (was down): OPTIONS answered 200`,
    ]);
  });

  it('a never-probed target stays unknown (routed) until failuresToDown failures', async () => {
    behaviour.set('sbc2.sll.se', 'reject');
    const p = make();
    await p.probeNow();
    expect(state('sll', SBC2)).toBe('unknown');
    await p.probeNow();
    expect(state('sll', SBC2)).toBe('down');
    expect(transitions().find((m) => m.includes(SBC2))).toBe(`zone sll target ${SBC2} is down: transport error: ECONNREFUSED; 2 consecutive failures`);
  });

  it('timeouts, throwing senders and senders that never answer are failures', async () => {
    behaviour.set('sbc1.sll.se', 'timeout').set('sbc2.sll.se', 'throw').set('gw1.inera.se', 'hang');
    const p = make({ failuresToDown: 1, timeoutMs: 2000 });
    const round = p.probeNow();
    await vi.advanceTimersByTimeAsync(2000);
    expect(state('sll', SBC1)).toBe('down');
    expect(state('sll', SBC2)).toBe('down');
    expect(state('gateway', GW)).toBe('unknown'); // the prober gives the sender a grace second
    await vi.advanceTimersByTimeAsync(1000);
    await round;
    expect(state('gateway', GW)).toBe('down');
    expect(transitions().find((m) => m.includes(SBC1))).toMatch(/no final response to OPTIONS within 2000 ms \(408\)/);
    expect(transitions().find((m) => m.includes(SBC2))).toMatch(/transport error: socket closed/);
    expect(transitions().find((m) => m.includes(GW))).toMatch(/OPTIONS sender gave no result within 3000 ms/);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('ZoneProber schedule', () => {
  it('start() probes at once and then every intervalMs; stop() leaves no timer', async () => {
    const p = make({ intervalMs: 10_000 });
    p.start();
    p.start(); // idempotent
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(calls).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls).toHaveLength(20);
    expect(p.status()).toMatchObject({ running: true, rounds: 4 });
    p.stop();
    expect(p.status().running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(20);
  });

  it('stop() during a round: no timer is left and late answers are ignored', async () => {
    let release!: (s: number) => void;
    behaviour.set('sbc1.sll.se', () => new Promise<number>((r) => (release = r)));
    const p = make({ intervalMs: 10_000, failuresToDown: 1 });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.status().roundInProgress).toBe(true);
    p.stop();
    release(503);
    await vi.advanceTimersByTimeAsync(0);
    expect(state('sll', SBC1)).toBe('unknown');
    expect(transitions().some((m) => m.includes(SBC1))).toBe(false);
    expect(p.status().roundInProgress).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a round slower than the interval is not doubled', async () => {
    behaviour.set('gw1.inera.se', 'timeout');
    const p = make({ intervalMs: 1_000, timeoutMs: 5_000 });
    p.start();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(calls).toHaveLength(5); // four ticks joined the running round
    expect(p.probeNow()).toBe(p.probeNow());
    await vi.advanceTimersByTimeAsync(2_000);
    expect(p.status().rounds).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeGreaterThan(5);
  });

  it('respects the concurrency cap and still probes every target', async () => {
    const pending: Array<() => void> = [];
    for (const h of ['sbc1.sll.se', 'sbc2.sll.se', '10.40.0.11', '10.40.0.12', 'gw1.inera.se']) {
      behaviour.set(h, () => new Promise<number>((r) => pending.push(() => r(200))));
    }
    const p = make({ concurrency: 2 });
    const round = p.probeNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    while (pending.length > 0) {
      pending.shift()!();
      await vi.advanceTimersByTimeAsync(0);
      expect(inFlight).toBeLessThanOrEqual(2);
    }
    await round;
    expect(maxInFlight).toBe(2);
    expect(calls).toHaveLength(5);
    for (const z of router.zones()) for (const t of z.targets) expect(t.state).toBe('up');
  });

  it('rejects nonsense settings', () => {
    expect(() => make({ intervalMs: 0 })).toThrow(RangeError);
    expect(() => make({ failuresToDown: 1.5 })).toThrow(/failuresToDown/);
    expect(() => make({ concurrency: -1 })).toThrow(/concurrency/);
  });
});

describe('ZoneProber follows plan changes', () => {
  it('picks up added zones and forgets removed ones between rounds', async () => {
    const p = make({ intervalMs: 10_000 });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.status().targets.map((t) => t.zone)).toContain('skane');

    store.removeZone('skane');
    store.putZone({ name: 'vgr', org: 'vgregion', targets: [{ host: 'sbc.vgregion.se', port: 5061, transport: 'tls', priority: 10 }] });
    calls = [];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.map((c) => c.host).sort()).toEqual(['gw1.inera.se', 'sbc.vgregion.se', 'sbc1.sll.se', 'sbc2.sll.se']);
    expect(p.status().targets.map((t) => t.zone).sort()).toEqual(['gateway', 'sll', 'sll', 'vgr']);
    expect(state('vgr', 'tls:sbc.vgregion.se:5061')).toBe('up');
    expect(log.debug.mock.calls.some((c) => /forgets skane target .*no longer in the dial plan/.test(c[1] as string))).toBe(true);

    // a changed target list of a zone: the old target is forgotten, the new one probed
    store.putZone({ name: 'vgr', org: 'vgregion', targets: [{ host: 'sbc2.vgregion.se', port: 5060, transport: 'tcp', priority: 10 }] });
    // the gateway removed from the settings
    store.updateSettings({ gateway: [] });
    calls = [];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.map((c) => c.host).sort()).toEqual(['sbc1.sll.se', 'sbc2.sll.se', 'sbc2.vgregion.se']);
    expect(p.status().targets.map((t) => t.key).sort()).toEqual(['tcp:sbc2.vgregion.se:5060', SBC1, SBC2].sort());
  });

  it('a target removed while its probe is in flight is forgotten, without a transition', async () => {
    let release!: (s: number) => void;
    behaviour.set('10.40.0.11', () => new Promise<number>((r) => (release = r)));
    const p = make({ failuresToDown: 1 });
    const round = p.probeNow();
    await vi.advanceTimersByTimeAsync(0);
    store.removeZone('skane');
    release(503);
    await round;
    expect(router.zoneTargets('skane')).toBeUndefined();
    expect(transitions().some((m) => m.includes(SK1))).toBe(false);
    expect(p.status().targets.some((t) => t.key === SK1)).toBe(false);
    expect(log.debug.mock.calls.some((c) => /forgets skane target tcp:10\.40\.0\.11:5060: the router no longer knows it/.test(c[1] as string))).toBe(true);
  });

  it('restores a down state the router lost when a target was removed and added back', async () => {
    behaviour.set('gw1.inera.se', 503);
    const p = make({ failuresToDown: 1 });
    await p.probeNow();
    expect(state('gateway', GW)).toBe('down');
    const gw = store.getSettings().gateway;
    store.updateSettings({ gateway: [] });
    store.updateSettings({ gateway: gw }); // the router pruned the health meanwhile
    expect(state('gateway', GW)).toBe('unknown');
    await p.probeNow();
    expect(state('gateway', GW)).toBe('down');
  });
});

describe('srfOptionsSender', () => {
  type Listener = (res?: { status?: number }) => void;
  interface Sent {
    uri: string;
    opts: { method: string; headers: Record<string, string> };
    respond: (status: number) => void;
  }

  function fakeSrf(mode: 'ok' | 'err' | 'throw' = 'ok'): { srf: SrfOptionsClient; sent: Sent[] } {
    const sent: Sent[] = [];
    const srf: SrfOptionsClient = {
      request(uri, opts, cb) {
        if (mode === 'throw') throw new Error('no drachtio connection');
        if (mode === 'err') {
          queueMicrotask(() => cb(new Error('ECONNRESET')));
          return;
        }
        const listeners: Listener[] = [];
        sent.push({ uri, opts, respond: (status) => listeners.forEach((l) => l({ status })) });
        queueMicrotask(() => cb(null, { on: (_e: 'response', l: Listener) => void listeners.push(l) }));
      },
    };
    return { srf, sent };
  }

  const target: ProbeTarget = { host: 'sbc1.sll.se', port: 5061, transport: 'tls' };

  it('sends OPTIONS to sip:host:port;transport=x with the headers, and resolves the final status', async () => {
    const { srf, sent } = fakeSrf();
    const send = srfOptionsSender(srf, { fromUri: 'sip:knude@video.inera.se', userAgent: 'knude/0.1.0' });
    const p = send(target, 5000);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.uri).toBe('sip:sbc1.sll.se:5061;transport=tls');
    expect(sent[0]!.opts.method).toBe('OPTIONS');
    expect(sent[0]!.opts.headers).toMatchObject({
      From: expect.stringMatching(/^<sip:knude@video\.inera\.se>;tag=[0-9a-f]{12}$/),
      To: '<sip:sbc1.sll.se:5061>',
      'Max-Forwards': '70',
      'User-Agent': 'knude/0.1.0',
    });
    sent[0]!.respond(100); // provisional: ignored
    sent[0]!.respond(405);
    sent[0]!.respond(200); // only the first final one counts
    await expect(p).resolves.toBe(405);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves 408 when no final response arrives in time and ignores a late one', async () => {
    const { srf, sent } = fakeSrf();
    const send = srfOptionsSender(srf, { fromUri: '<sip:knude@node.example>', userAgent: 'knude' });
    const p = send({ host: '10.40.0.11', port: 5060, transport: 'tcp' }, 3000);
    await vi.advanceTimersByTimeAsync(0);
    sent[0]!.respond(180);
    await vi.advanceTimersByTimeAsync(2999);
    let done = false;
    void p.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe(408);
    sent[0]!.respond(200);
    expect(sent[0]!.opts.headers.From).toMatch(/^<sip:knude@node\.example>;tag=/);
  });

  it('resolves 503 on a send error or a throwing srf, never rejects', async () => {
    const debug = vi.fn();
    const a = srfOptionsSender(fakeSrf('err').srf, { fromUri: 'sip:k@x', userAgent: 'k', log: { debug } })(target, 5000);
    const b = srfOptionsSender(fakeSrf('throw').srf, { fromUri: 'sip:k@x', userAgent: 'k' })(target, 5000);
    await expect(a).resolves.toBe(503);
    await expect(b).resolves.toBe(503);
    expect(debug).toHaveBeenCalledWith(expect.objectContaining({ err: 'ECONNRESET' }), expect.stringContaining('could not be sent'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('brackets IPv6 hosts', () => {
    expect(optionsRequestUri({ host: '2001:db8::1', port: 5060, transport: 'udp' })).toBe('sip:[2001:db8::1]:5060;transport=udp');
  });

  it('drives the prober end to end', async () => {
    const { srf, sent } = fakeSrf();
    const p = make({ sendOptions: srfOptionsSender(srf, { fromUri: 'sip:knude@video.inera.se', userAgent: 'knude' }), timeoutMs: 1000, failuresToDown: 1 });
    const round = p.probeNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(5);
    for (const s of sent) if (!s.uri.includes('sbc2')) s.respond(404);
    await vi.advanceTimersByTimeAsync(1000);
    await round;
    expect(state('sll', SBC1)).toBe('up');
    expect(state('sll', SBC2)).toBe('down');
    expect(sllHosts()).toEqual(['sbc1.sll.se']);
  });
});
