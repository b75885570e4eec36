import { beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openDatabase } from '../../src/store/database.js';
import { PlanImportError } from '../../src/dialplan/errors.js';
import { exportPlan, importPlan } from '../../src/dialplan/document.js';
import { EXAMPLE_PLAN_YAML } from '../../src/dialplan/example-plan.js';
import { DialPlanRouter } from '../../src/dialplan/router.js';
import { DialPlanStore } from '../../src/dialplan/store.js';

const fresh = () => new DialPlanStore(openDatabase(':memory:'));
let store: DialPlanStore;
beforeEach(() => {
  store = fresh();
});

function importErrors(text: string, into = store): string[] {
  try {
    importPlan(into, text);
  } catch (e) {
    expect(e).toBeInstanceOf(PlanImportError);
    return (e as PlanImportError).issues.map((i) => (i.line ? `line ${i.line}: ${i.message}` : i.message));
  }
  throw new Error('import was expected to fail');
}

const BROKEN = `version: 1
settings:
  countryCode: 46
  nationalPrefix: 0
  internationalPrefix: 00
organisations:
  - name: region-y
    displayName: Region Y
    blocks: [+464]
    domains: [y.se]
  - name: region-x
    displayName: Region X
    blocks:
      - +4640
      - +4650
aliases:
  - { alias: '+4650111', kind: room, target: r1, org: region-y }
transforms:
  - { priority: 1, match: '(a+)+', replace: '' }
`;

describe('import', () => {
  it('imports the example plan and reports what it applied', () => {
    expect(importPlan(store, EXAMPLE_PLAN_YAML)).toEqual({ orgs: 4, blocks: 5, domains: 4, zones: 2, aliases: 10, transforms: 2, blocked: 1 });
    expect(store.getSettings()).toMatchObject({ countryCode: '46', nationalPrefix: '0', internationalPrefix: '00', ownDomains: ['video.inera.se'] });
  });

  it('names the line and the conflict of every problem', () => {
    expect(importErrors(BROKEN)).toEqual([
      'line 14: prefix +4640 of org "region-x" overlaps +464 of org "region-y"',
      'line 17: alias +4650111 of org "region-y" is not in a number block of that org (it lies in +4650 of org "region-x")',
      expect.stringMatching(/^line 19: transform match \/\(a\+\)\+\/ refused: .*nested quantifiers/),
    ]);
  });

  it('applies nothing when anything is wrong (one transaction)', () => {
    importPlan(store, EXAMPLE_PLAN_YAML);
    const before = exportPlan(store);
    expect(() => importPlan(store, BROKEN)).toThrow(PlanImportError);
    expect(exportPlan(store)).toBe(before);
    expect(store.getSettings().ownDomains).toEqual(['video.inera.se']);
  });

  it('reports YAML syntax errors with their line', () => {
    const errs = importErrors('version: 1\norganisations:\n  - name: a\n   bad: [\n');
    expect(errs[0]).toMatch(/^line \d+: /);
  });

  it('reports structural problems with lines', () => {
    const errs = importErrors(`version: 1
organisations:
  - name: region-a
    colour: blue
zones:
  - name: z
    org: region-a
    targets:
      - { host: a.example.se, port: "x" }
aliases:
  - { alias: '+461', kind: room, org: region-a }
`);
    expect(errs).toEqual([
      expect.stringMatching(/^line 4: unknown key "colour" in organisation/),
      'line 9: port must be a number',
      'line 11: alias needs "target"',
    ]);
  });

  it('reports a missing org and an unknown domain at their lines', () => {
    const errs = importErrors(`organisations:
  - name: region-a
    domains: [a.se, a.se]
aliases:
  - { alias: bob@b.se, kind: account, target: bob@b.se, org: region-a }
policy:
  blocked:
    - { from: region-a, to: region-b }
`);
    expect(errs).toEqual([
      'line 3: domain a.se already belongs to org "region-a"',
      'line 5: alias bob@b.se of org "region-a" is not in a domain of that org (no organisation owns b.se)',
      'line 8: organisation "region-b" does not exist',
    ]);
  });

  it('keeps unquoted numbers as written: +468 and 00', () => {
    importPlan(store, 'settings: { internationalPrefix: 00, nationalPrefix: 0, countryCode: 46 }\norganisations:\n  - { name: region-s, blocks: [+468, 4631] }\n');
    expect(store.getSettings()).toMatchObject({ internationalPrefix: '00', nationalPrefix: '0', countryCode: '46' });
    expect(store.listBlocks().map((b) => b.prefix)).toEqual(['4631', '468']);
  });

  it('reads JSON too, with line numbers', () => {
    const errs = importErrors('{\n  "organisations": [\n    { "name": "Bad Name" }\n  ]\n}\n');
    expect(errs).toEqual([expect.stringMatching(/^line 3: organisation name "Bad Name" is invalid/)]);
  });

  it('dry run checks without applying', () => {
    expect(importPlan(store, EXAMPLE_PLAN_YAML, { dryRun: true }).aliases).toBe(10);
    expect(store.listOrgs()).toEqual([]);
  });

  it('is seen by a running router at once', () => {
    const router = new DialPlanRouter(store);
    const from = { kind: 'external', address: '198.51.100.1' } as const;
    expect(router.route({ dialled: 'meet@video.inera.se', from })).toMatchObject({ action: 'reject' });
    importPlan(store, EXAMPLE_PLAN_YAML);
    expect(router.route({ dialled: 'meet@video.inera.se', from })).toMatchObject({ action: 'room', roomId: 'national-meeting' });
  });
});

describe('export', () => {
  beforeEach(() => {
    importPlan(store, EXAMPLE_PLAN_YAML);
  });

  it('round-trips through YAML and JSON', () => {
    const yaml = exportPlan(store, 'yaml');
    const json = exportPlan(store, 'json');
    for (const text of [yaml, json]) {
      const copy = fresh();
      importPlan(copy, text);
      expect(exportPlan(copy, 'yaml')).toBe(yaml);
    }
    expect(JSON.parse(json)).toEqual(parse(yaml));
  });

  it('writes prefixes with + and can redact zone passwords', () => {
    const doc = parse(exportPlan(store, 'yaml', { redactSecrets: true }));
    expect(doc.organisations.find((o: { name: string }) => o.name === 'region-stockholm').blocks).toEqual(['+468']);
    expect(doc.zones.find((z: { name: string }) => z.name === 'skane').prefixes).toEqual(['+4640']);
    expect(doc.zones.find((z: { name: string }) => z.name === 'sll').credentials).toEqual({ username: 'knude-national', password: '********' });
    expect(exportPlan(store, 'yaml', { redactSecrets: true })).not.toContain('s3cret');
  });
});
