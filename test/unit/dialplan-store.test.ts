import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { PlanConflictError, PlanNotFoundError, PlanValidationError } from '../../src/dialplan/errors.js';
import { DialPlanStore, type DialPlanChange } from '../../src/dialplan/store.js';

let store: DialPlanStore;
const targets = [
  { host: 'sbc1.sll.se', port: 5061, transport: 'tls' as const, priority: 10 },
  { host: 'sbc2.sll.se', port: 5061, transport: 'tls' as const, priority: 20 },
];

beforeEach(() => {
  store = new DialPlanStore(openDatabase(':memory:'));
  store.updateSettings({ ownDomains: ['video.inera.se'], countryCode: '46', nationalPrefix: '0' });
  for (const name of ['region-stockholm', 'region-skane', 'vgregion']) store.createOrg({ name, displayName: name.toUpperCase() });
  store.addBlock('region-stockholm', '+468');
  store.addBlock('region-skane', '+4640');
  store.addBlock('vgregion', '+4631');
  store.addDomain('region-stockholm', 'SLL.se');
  store.addDomain('region-skane', 'skane.se');
  store.addDomain('vgregion', 'vgregion.se');
});

describe('organisations', () => {
  it.each(['A-region', '-region', 'x', 'region_x', 'r'.repeat(64)])('refuses the name %s', (name) => {
    expect(() => store.createOrg({ name })).toThrow(PlanValidationError);
  });

  it('refuses a duplicate and lists what an org still owns before deleting it', () => {
    expect(() => store.createOrg({ name: 'vgregion' })).toThrow(PlanConflictError);
    expect(() => store.deleteOrg('vgregion')).toThrow(/still owns 1 blocks, 1 domains/);
    store.deleteOrg('vgregion', { cascade: true });
    expect(store.getOrg('vgregion')).toBeUndefined();
    expect(store.listBlocks('vgregion')).toEqual([]);
  });

  it('records creation time and display name', () => {
    const o = store.getOrg('region-skane')!;
    expect(o.displayName).toBe('REGION-SKANE');
    expect(Date.parse(o.createdAt)).not.toBeNaN();
  });
});

describe('number blocks', () => {
  const overlaps: Array<[string, string, RegExp]> = [
    ['region-skane', '+4684', /prefix \+4684 of org "region-skane" overlaps \+468 of org "region-stockholm"/],
    ['region-skane', '+46', /prefix \+46 of org "region-skane" overlaps \+4631 of org "vgregion"|overlaps \+4640|overlaps \+468/],
    ['vgregion', '468', /prefix \+468 of org "vgregion" overlaps \+468 of org "region-stockholm"/],
  ];
  it.each(overlaps)('refuses %s taking %s', (org, prefix, message) => {
    expect(() => store.addBlock(org, prefix)).toThrow(PlanConflictError);
    expect(() => store.addBlock(org, prefix)).toThrow(message);
  });

  it('allows nesting within one organisation', () => {
    expect(store.addBlock('region-stockholm', '+4681')).toEqual({ prefix: '4681', org: 'region-stockholm' });
    expect(store.blockFor('+46812345')).toEqual({ prefix: '4681', org: 'region-stockholm' });
  });

  it.each(['+0468', 'abc', '', '+1234567890123456'])('refuses the prefix "%s"', (p) => {
    expect(() => store.addBlock('vgregion', p)).toThrow(PlanValidationError);
  });

  it('refuses removing a block that still holds aliases, unless another block of the org covers them', () => {
    store.addAlias({ alias: '+46812345', kind: 'account', target: 'a@sll.se', org: 'region-stockholm' });
    expect(() => store.removeBlock('+468')).toThrow(/still holds 1 alias \(e\.g\. \+46812345\)/);
    store.addBlock('region-stockholm', '+4681');
    store.removeBlock('+468');
    expect(store.listBlocks('region-stockholm').map((b) => b.prefix)).toEqual(['4681']);
  });
});

describe('domains', () => {
  it('lowercases and refuses a domain another org owns', () => {
    expect(store.listDomains('region-stockholm')).toEqual([{ domain: 'sll.se', org: 'region-stockholm' }]);
    expect(() => store.addDomain('vgregion', 'Sll.SE')).toThrow(/domain sll\.se of org "vgregion" is already owned by org "region-stockholm"/);
    expect(() => store.addDomain('vgregion', 'not a domain')).toThrow(PlanValidationError);
  });
});

describe('aliases', () => {
  it('normalises aliases like dialled strings', () => {
    const a = store.addAlias({ alias: '08-123 45', kind: 'account', target: 'Bo@SLL.se', org: 'region-stockholm' });
    expect(a).toEqual({ alias: '+46812345', kind: 'account', target: 'Bo@sll.se', org: 'region-stockholm', public: false });
    expect(store.getAlias('sip:+46812345@video.inera.se')?.target).toBe('Bo@sll.se');
    const u = store.addAlias({ alias: 'Alice@SLL.se', kind: 'room', target: 'room-1', org: 'region-stockholm', public: true });
    expect(u.alias).toBe('alice@sll.se');
  });

  const refused: Array<[string, Parameters<DialPlanStore['addAlias']>[0], RegExp]> = [
    ['number outside its org blocks', { alias: '+4640111', kind: 'account', target: 'a@sll.se', org: 'region-stockholm' }, /alias \+4640111 of org "region-stockholm" is not in a number block of that org \(it lies in \+4640 of org "region-skane"\)/],
    ['number in no block at all', { alias: '+4790111', kind: 'account', target: 'a@sll.se', org: 'region-stockholm' }, /no organisation owns a block for it/],
    ['URI on another org domain', { alias: 'bob@skane.se', kind: 'account', target: 'bob@skane.se', org: 'vgregion' }, /alias bob@skane\.se of org "vgregion" is not in a domain of that org \(skane\.se belongs to org "region-skane"\)/],
    ['URI on an unknown domain', { alias: 'bob@example.com', kind: 'account', target: 'bob@example.com', org: 'vgregion' }, /no organisation owns example\.com/],
    ['zone alias to a missing zone', { alias: '+4631000', kind: 'zone', target: 'nowhere', org: 'vgregion' }, /zone "nowhere" does not exist/],
    ['account target without realm', { alias: '+4631000', kind: 'account', target: 'bob', org: 'vgregion' }, /username@realm/],
    ['garbage alias', { alias: 'sip:', kind: 'account', target: 'a@b.se', org: 'vgregion' }, /neither an E\.164 number nor a URI/],
  ];
  it.each(refused)('refuses %s', (_label, input, message) => {
    expect(() => store.addAlias(input)).toThrow(message);
  });

  it('refuses a duplicate alias and rolls back a bulk insert as a whole', () => {
    store.addAlias({ alias: '+4631100', kind: 'room', target: 'r1', org: 'vgregion' });
    expect(() => store.addAlias({ alias: '004631100', kind: 'room', target: 'r2', org: 'vgregion' })).toThrow(/alias \+4631100 already exists \(room r1 of org "vgregion"\)/);
    expect(() =>
      store.addAliases([
        { alias: '+4631200', kind: 'room', target: 'r2', org: 'vgregion' },
        { alias: '+4631100', kind: 'room', target: 'r3', org: 'vgregion' },
      ]),
    ).toThrow(PlanConflictError);
    expect(store.getAlias('+4631200')).toBeUndefined();
  });

  it('updates and removes', () => {
    store.addAlias({ alias: '+4631100', kind: 'room', target: 'r1', org: 'vgregion' });
    expect(store.updateAlias('+4631100', { public: true }).public).toBe(true);
    store.removeAlias('+4631100');
    expect(() => store.removeAlias('+4631100')).toThrow(PlanNotFoundError);
  });
});

describe('zones', () => {
  it('stores targets and credentials, one zone per org', () => {
    const z = store.putZone({ name: 'sll', org: 'region-stockholm', targets, credentials: { username: 'u', password: 'p' } });
    expect(store.getZone('sll')).toEqual(z);
    expect(() => store.putZone({ name: 'sll-2', org: 'region-stockholm', targets })).toThrow(/already connects through zone "sll"/);
    expect(() => store.putZone({ name: 'gateway', org: 'vgregion', targets })).toThrow(/reserved/);
  });

  it('refuses explicit prefixes and domains outside the org', () => {
    expect(() => store.putZone({ name: 'sll', org: 'region-stockholm', prefixes: ['+4640'], targets })).toThrow(/prefix \+4640 is not in a number block of org "region-stockholm"/);
    expect(() => store.putZone({ name: 'sll', org: 'region-stockholm', domains: ['skane.se'], targets })).toThrow(/domain skane\.se is not a domain of org/);
    expect(store.putZone({ name: 'sll', org: 'region-stockholm', prefixes: ['+4681'], targets }).prefixes).toEqual(['4681']);
  });

  it.each([
    [[], /1-16 targets/],
    [[{ host: 'bad host', port: 5060 }], /host/],
    [[{ host: 'a.se', port: 70000 }], /port/],
    [[{ host: 'a.se', transport: 'sctp' }], /transport/],
  ])('refuses bad targets %#', (t, message) => {
    expect(() => store.putZone({ name: 'sll', org: 'region-stockholm', targets: t as never })).toThrow(message);
  });

  it('refuses removing a zone that aliases point to', () => {
    store.putZone({ name: 'sll', org: 'region-stockholm', targets });
    store.addAlias({ alias: '+468999', kind: 'zone', target: 'sll', org: 'region-stockholm' });
    expect(() => store.removeZone('sll')).toThrow(/still the target of alias \+468999/);
  });
});

describe('policy, settings, change events', () => {
  it('blocks and unblocks org pairs', () => {
    store.blockOrgs('region-skane', 'vgregion', 'pilot');
    expect(store.listBlocked()).toEqual([{ fromOrg: 'region-skane', toOrg: 'vgregion', reason: 'pilot' }]);
    expect(() => store.blockOrgs('region-skane', 'region-skane')).toThrow(PlanValidationError);
    expect(() => store.blockOrgs('region-skane', 'nobody')).toThrow(PlanNotFoundError);
    store.unblockOrgs('region-skane', 'vgregion');
    expect(store.listBlocked()).toEqual([]);
  });

  it('validates settings', () => {
    expect(() => store.updateSettings({ countryCode: '046' })).toThrow(/countryCode/);
    expect(() => store.updateSettings({ nationalPrefix: '00', internationalPrefix: '0' })).toThrow(/nationalPrefix/);
    expect(() => store.updateSettings({ ownDomains: ['bad domain'] })).toThrow(/own domain/);
    expect(store.updateSettings({ ownDomains: ['Video.Example.DK'] }).ownDomains).toEqual(['video.example.dk']);
  });

  it('emits alias changes, structure changes and one reload per batch', () => {
    const seen: DialPlanChange['type'][] = [];
    store.onChange((c) => seen.push(c.type));
    store.addAlias({ alias: '+4631100', kind: 'room', target: 'r1', org: 'vgregion' });
    store.addBlock('vgregion', '+4633');
    store.batch(() => {
      store.addBlock('vgregion', '+4634');
      store.addBlock('vgregion', '+4635');
    });
    expect(() =>
      store.batch(() => {
        store.addBlock('vgregion', '+4636');
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(seen).toEqual(['alias', 'structure', 'reload']);
    expect(store.listBlocks('vgregion').map((b) => b.prefix)).toEqual(['4631', '4633', '4634', '4635']);
  });
});
