import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { importPlan } from '../../src/dialplan/document.js';
import { EXAMPLE_PLAN_YAML } from '../../src/dialplan/example-plan.js';
import { explain } from '../../src/dialplan/explain.js';
import { DialPlanRouter, type RouteCaller, type RouteDecision, type RouteRequest } from '../../src/dialplan/router.js';
import { DialPlanStore } from '../../src/dialplan/store.js';

let store: DialPlanStore;
let router: DialPlanRouter;

beforeEach(() => {
  store = new DialPlanStore(openDatabase(':memory:'));
  importPlan(store, EXAMPLE_PLAN_YAML);
  router = new DialPlanRouter(store);
});

const sthlm: RouteCaller = { kind: 'account', org: 'region-stockholm', username: 'alice' };
const skane: RouteCaller = { kind: 'account', org: 'region-skane', username: 'bob' };
const vgr: RouteCaller = { kind: 'account', org: 'vgregion', username: 'carl' };
const ext: RouteCaller = { kind: 'external', address: '203.0.113.5' };
const sllZone: RouteCaller = { kind: 'zone', zone: 'sll', org: 'region-stockholm' };
const skaneZone: RouteCaller = { kind: 'zone', zone: 'skane', org: 'region-skane' };

type Expect = Partial<Pick<RouteDecision & Record<string, unknown>, 'action' | 'org' | 'target' | 'roomId' | 'zone' | 'status'>> & {
  reason?: RegExp;
  hosts?: string[];
};

const SLL = ['sbc1.sll.se', 'sbc2.sll.se'];
const cases: Array<[string, string, RouteCaller, Expect, Partial<RouteRequest>?]> = [
  ['E.164 alias of an account', '+4631100200', sthlm, { action: 'account', org: 'vgregion', target: 'anna@vgregion.se' }],
  ['URI alias, case-insensitive', 'sip:Anna@VGRegion.se', sthlm, { action: 'account', target: 'anna@vgregion.se' }],
  ['national number to a room', '031-100 300', sthlm, { action: 'room', org: 'vgregion', roomId: 'vgr-akut' }],
  ['national room on our own domain', 'sip:meet@video.inera.se', sthlm, { action: 'room', org: 'inera', roomId: 'national-meeting' }],
  ['digits on own domain are a number', 'sip:4610100100@video.inera.se', sthlm, { action: 'room', roomId: 'national-meeting' }],
  ['transform 9+national to a zone', '981234567', vgr, { action: 'zone', zone: 'sll', org: 'region-stockholm', hosts: SLL }],
  ['4-digit extension transform (stop)', '0200', vgr, { action: 'account', target: 'anna@vgregion.se' }],
  ['longest prefix +468 to zone', '+46812345', vgr, { action: 'zone', zone: 'sll', hosts: SLL }],
  ['zone alias wins over nothing', '+4681234500', vgr, { action: 'zone', zone: 'sll' }],
  ['explicit zone prefix +4640', '040-99 99 99', vgr, { action: 'zone', zone: 'skane', hosts: ['10.40.0.11', '10.40.0.12'] }],
  ['block not served by the zone', '+4642999', vgr, { action: 'reject', status: 404, reason: /block \+4642 of org "region-skane", which has no such alias and no zone/ }],
  ['number nobody owns', '+4790000000', vgr, { action: 'reject', status: 404, reason: /no organisation owns a number block for \+4790000000/ }],
  ['URI domain of a zone', 'bob@sll.se', vgr, { action: 'zone', zone: 'sll' }],
  ['org domain without zone', 'nobody@vgregion.se', vgr, { action: 'reject', status: 404, reason: /domain vgregion\.se of org "vgregion" has no zone/ }],
  ['foreign domain to gateway', 'sip:someone@example.com', vgr, { action: 'gateway', hosts: ['gw1.inera.se'] }],
  ['external to a room by URI', 'sip:meet@video.inera.se', ext, { action: 'room', roomId: 'national-meeting' }],
  ['external to a room by number', '+4610100100', ext, { action: 'room', roomId: 'national-meeting' }],
  ['external to a public account alias', 'support@video.inera.se', ext, { action: 'account', target: 'support@video.inera.se' }],
  ['external to an internal account', '+4610100200', ext, { action: 'reject', status: 403, reason: /external callers may reach only meeting rooms and public aliases/ }],
  ['external to an internal URI', 'anna@vgregion.se', ext, { action: 'reject', status: 403 }],
  ['external to a neighbour zone', '+46812345', ext, { action: 'reject', status: 403 }],
  ['external relayed to the internet', 'x@example.com', ext, { action: 'reject', status: 403 }],
  ['blocked org pair', '+4631100200', skane, { action: 'reject', status: 403, reason: /org "region-skane" is blocked from calling org "vgregion" \(interconnect agreement pending\)/ }],
  ['blocked org pair after transform', '0300', skane, { action: 'reject', status: 403, reason: /blocked/ }],
  ['block is one-way', '+4640123456', vgr, { action: 'account', target: 'lund-ward7@skane.se' }],
  ['zone sending its own number back', '+46812345', sllZone, { action: 'reject', status: 482, reason: /loop detected.*zone sll/ }],
  ['zone sending its own zone alias back', '+4681234500', sllZone, { action: 'reject', status: 482 }],
  ['zone sending its own domain back', 'bob@skane.se', skaneZone, { action: 'reject', status: 482 }],
  ['zone calling a local account', '+4631100200', sllZone, { action: 'account', target: 'anna@vgregion.se' }],
  ['garbage', 'sip:', vgr, { action: 'reject', status: 484 }],
  ['Max-Forwards 0', '+4631100200', vgr, { action: 'reject', status: 483 }, { maxForwards: 0 }],
  ['Max-Forwards 1 still routes', '+4631100200', vgr, { action: 'account' }, { maxForwards: 1 }],
  ['zone already in path', '+46812345', vgr, { action: 'reject', status: 482, reason: /zone sll is already in the call's path/ }, { via: ['sll'] }],
  ['one target already in path', '+46812345', vgr, { action: 'zone', hosts: ['sbc2.sll.se'] }, { via: ['SBC1.sll.se'] }],
  ['every target already in path', '+46812345', vgr, { action: 'reject', status: 482 }, { via: ['sbc1.sll.se', 'tls:sbc2.sll.se:5061'] }],
];

describe('route', () => {
  it.each(cases)('%s: %s', (_label, dialled, from, exp, extra) => {
    const d = router.route({ dialled, from, ...extra });
    const { reason, hosts, ...fields } = exp;
    expect(d).toMatchObject(fields);
    if (reason) expect(d.action === 'reject' && d.reason).toMatch(reason);
    if (hosts) expect(d.action === 'zone' || d.action === 'gateway' ? d.targets.map((t) => t.host) : []).toEqual(hosts);
    expect(d.trace[0]!.step).toBe('input');
    expect(d.trace.length).toBeGreaterThan(1);
  });

  it('traces the rule chain: normalised, transform, match, policy', () => {
    const d = router.route({ dialled: '981234567', from: vgr });
    expect(d.trace.map((s) => s.step)).toEqual(['input', 'parse', 'transform', 'normalise', 'zone', 'policy', 'decision']);
    expect(d.trace[2]!.detail).toMatch(/transform #1 "9 \+ national number \(PBX habit\)".*rewrote 981234567 to \+4681234567/);
    expect(d.destination?.e164).toBe('+4681234567');
  });

  it('routes H.323 aliases the same way', () => {
    expect(router.route({ dialled: { h323: 'dialedDigits', value: '031100300#' }, from: sthlm })).toMatchObject({ action: 'room', roomId: 'vgr-akut' });
    expect(router.route({ dialled: { h323: 'h323-ID', value: 'Meet' }, from: ext })).toMatchObject({ action: 'room', roomId: 'national-meeting', dialled: 'h323-ID:Meet' });
  });

  it('passes the zone credentials and never prints the password', () => {
    const d = router.route({ dialled: '+46812345', from: vgr });
    expect(d.action === 'zone' && d.credentials).toEqual({ username: 'knude-national', password: 's3cret' });
    const text = explain(d);
    expect(text).toContain('authenticating as knude-national');
    expect(text).not.toContain('s3cret');
  });

  it('reports a rewrite loop in the transforms as 482', () => {
    store.addTransform({ priority: 1, match: '^1(\\d+)$', replace: '2$1' });
    store.addTransform({ priority: 2, match: '^2(\\d+)$', replace: '1$1' });
    const d = router.route({ dialled: '15555', from: vgr });
    expect(d).toMatchObject({ action: 'reject', status: 482 });
  });
});

describe('target health and failover', () => {
  it('leaves down targets out, in priority order, and 503 when all are down', () => {
    const route = () => router.route({ dialled: '+46812345', from: vgr });
    expect(router.setTargetState('sll', 'tls:sbc1.sll.se:5061', 'down')).toBe(true);
    let d = route();
    expect(d.action === 'zone' && d.targets.map((t) => t.host)).toEqual(['sbc2.sll.se']);
    expect(d.trace.some((s) => s.step === 'health' && /sbc1\.sll\.se.*down/.test(s.detail))).toBe(true);

    router.setTargetState('sll', { host: 'sbc2.sll.se', port: 5061, transport: 'tls' }, 'down');
    d = route();
    expect(d).toMatchObject({ action: 'reject', status: 503, reason: 'all targets of zone sll are down' });

    router.setTargetState('sll', 'tls:sbc1.sll.se:5061', 'up');
    d = route();
    expect(d.action === 'zone' && d.targets.map((t) => [t.host, t.state])).toEqual([['sbc1.sll.se', 'up']]);
  });

  it('fails over on the internet gateway too', () => {
    router.setTargetState('gateway', 'tls:gw1.inera.se:5061', 'down');
    expect(router.route({ dialled: 'x@example.com', from: vgr })).toMatchObject({ status: 503, reason: 'all targets of the internet gateway are down' });
  });

  it('lists zones and targets for the prober and ignores unknown targets', () => {
    expect(router.setTargetState('sll', 'tls:unknown:5061', 'down')).toBe(false);
    expect(router.setTargetState('nowhere', 'tls:sbc1.sll.se:5061', 'down')).toBe(false);
    router.setTargetState('skane', 'tcp:10.40.0.12:5060', 'up');
    const zones = router.zones();
    expect(zones.map((z) => z.zone)).toEqual(['skane', 'sll', 'gateway']);
    expect(router.zoneTargets('skane')).toMatchObject([
      { key: 'tcp:10.40.0.11:5060', state: 'unknown', since: null },
      { key: 'tcp:10.40.0.12:5060', state: 'up' },
    ]);
    expect(router.zoneTargets('nowhere')).toBeUndefined();
  });

  it('keeps health across plan changes and forgets removed targets', () => {
    router.setTargetState('sll', 'tls:sbc1.sll.se:5061', 'down');
    store.addBlock('vgregion', '+4633');
    expect(router.zoneTargets('sll')![0]!.state).toBe('down');
    store.putZone({ name: 'sll', org: 'region-stockholm', targets: [{ host: 'sbc3.sll.se', port: 5061, transport: 'tls', priority: 5 }] });
    expect(router.zoneTargets('sll')!.map((t) => [t.key, t.state])).toEqual([['tls:sbc3.sll.se:5061', 'unknown']]);
  });
});

describe('writes through the store are seen at once', () => {
  it('aliases, transforms, zones and policy', () => {
    expect(router.route({ dialled: '+4631555', from: sthlm })).toMatchObject({ status: 404 });
    store.addAlias({ alias: '+4631555', kind: 'room', target: 'new-room', org: 'vgregion' });
    expect(router.route({ dialled: '+4631555', from: sthlm })).toMatchObject({ action: 'room', roomId: 'new-room' });
    store.removeAlias('+4631555');
    expect(router.route({ dialled: '+4631555', from: sthlm })).toMatchObject({ status: 404 });

    store.addTransform({ priority: 1, match: '^555$', replace: '+4631100300', stop: true });
    expect(router.route({ dialled: '555', from: sthlm })).toMatchObject({ action: 'room', roomId: 'vgr-akut' });

    store.putZone({ name: 'vgr', org: 'vgregion', targets: [{ host: 'vcs.vgregion.se', port: 5061, transport: 'tls', priority: 1 }] });
    expect(router.route({ dialled: '+4631999', from: sthlm })).toMatchObject({ action: 'zone', zone: 'vgr' });

    store.blockOrgs('region-stockholm', 'vgregion');
    expect(router.route({ dialled: '+4631999', from: sthlm })).toMatchObject({ status: 403 });
    store.addAliases([{ alias: 'x@sll.se', kind: 'room', target: 'x', org: 'region-stockholm' }]);
    expect(router.route({ dialled: 'x@sll.se', from: sthlm })).toMatchObject({ action: 'room' });
  });

  it('stops following the store after close()', () => {
    router.close();
    store.addAlias({ alias: '+4631555', kind: 'room', target: 'new-room', org: 'vgregion' });
    expect(router.route({ dialled: '+4631555', from: sthlm })).toMatchObject({ status: 404 });
    router.reload();
    expect(router.route({ dialled: '+4631555', from: sthlm })).toMatchObject({ action: 'room' });
  });
});

describe('explain', () => {
  it('renders the trace as numbered lines with the result and targets', () => {
    const text = explain(router.route({ dialled: '981234567', from: vgr }));
    const lines = text.split('\n');
    expect(lines[0]).toBe('Route "981234567" (+4681234567)');
    expect(lines[1]).toMatch(/^\s+1\. input\s+dialled "981234567" from account carl of org "vgregion"$/);
    expect(text).toMatch(/3\. transform\s+transform #1/);
    expect(text).toContain('Result: send to zone sll (org "region-stockholm")');
    expect(text).toContain('try 1: tls:sbc1.sll.se:5061 priority 10 (not probed yet)');
    expect(text).toContain('try 2: tls:sbc2.sll.se:5061 priority 20');
  });

  it('explains a refusal', () => {
    const text = explain(router.route({ dialled: '+4610100200', from: ext }));
    expect(text).toContain('Result: reject 403: external callers may reach only meeting rooms and public aliases');
  });
});
