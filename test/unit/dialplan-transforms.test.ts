import { describe, expect, it } from 'vitest';
import { PlanValidationError } from '../../src/dialplan/errors.js';
import { applyTransforms, checkPatternSafety, checkTransform, compileTransforms, MAX_TRANSFORM_PASSES } from '../../src/dialplan/transforms.js';
import type { TransformRule } from '../../src/dialplan/types.js';

let nextId = 1;
const rule = (priority: number, match: string, replace: string, stop = false): TransformRule => ({
  id: nextId++,
  priority,
  match,
  replace,
  stop,
  description: '',
});

describe('transform safety', () => {
  const refused: Array<[string, RegExp]> = [
    ['(a+)+', /nested quantifiers/],
    ['(\\d*)*', /nested quantifiers/],
    ['(a|aa)+', /nested quantifiers/],
    ['((\\d+)x)*', /nested quantifiers/],
    ['(\\d{2,})+', /nested quantifiers/],
    ['(\\d)\\1', /backreferences/],
    ['(?<n>\\d)\\k<n>', /backreferences/],
    ['\\d+\\d+\\d+', /unbounded quantifiers/],
    ['(\\d+', /unbalanced|not a valid/],
    ['\\d+)', /unbalanced/],
    ['[', /not a valid/],
    ['x'.repeat(201), /longer than/],
  ];
  it.each(refused)('refuses /%s/', (pattern, why) => {
    expect(() => checkTransform({ priority: 1, match: pattern, replace: '' })).toThrow(PlanValidationError);
    expect(() => checkTransform({ priority: 1, match: pattern, replace: '' })).toThrow(why);
  });

  const accepted = ['^9(\\d+)$', '^(\\d{4})$', '^(?:00|\\+)46(\\d{6,12})$', '^([a-z.]+)@old\\.se$', '^(\\d{2}){1,3}$', '^\\*(\\d{3})#?$', '^(a|b)?(\\d+)$'];
  it.each(accepted)('accepts /%s/', (pattern) => {
    expect(() => checkPatternSafety(pattern)).not.toThrow();
    expect(() => checkTransform({ priority: 1, match: pattern, replace: '' })).not.toThrow();
  });

  it('refuses a replacement that names a group the pattern does not have', () => {
    expect(() => checkTransform({ priority: 1, match: '^9(\\d+)$', replace: '+46$2' })).toThrow(/\$2 but .* has 1 group/);
  });

  it('refuses a non-integer priority', () => {
    expect(() => checkTransform({ priority: 1.5, match: 'x', replace: 'y' })).toThrow(/priority/);
  });

  it('runs a refused-shape-free rule on hostile input quickly', () => {
    const [t] = compileTransforms([rule(1, '^(\\d+)@(.+)$', '$1')]);
    const started = performance.now();
    t!.re.test('1'.repeat(256) + '!');
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('applyTransforms', () => {
  it('always anchors: a rule without ^…$ does not match inside a string', () => {
    const rules = compileTransforms([rule(1, '9(\\d+)', '+46$1')]);
    expect(applyTransforms('19123', rules).result).toBe('19123');
    expect(applyTransforms('9123456', rules).result).toBe('+46123456');
  });

  it('runs in priority order, each rule on the previous output', () => {
    const rules = compileTransforms([rule(20, '^\\+460(\\d+)$', '+46$1'), rule(10, '^9(\\d+)$', '+46$1')]);
    const r = applyTransforms('9081234567', rules);
    expect(r.result).toBe('+4681234567');
    expect(r.steps.map((s) => [s.from, s.to])).toEqual([
      ['9081234567', '+46081234567'],
      ['+46081234567', '+4681234567'],
    ]);
    expect(r.settled).toBe(true);
  });

  it('ties on priority are broken by id (insertion order)', () => {
    const a = rule(5, '^1$', '2');
    const b = rule(5, '^2$', '3');
    expect(applyTransforms('1', compileTransforms([b, a])).steps[0]!.rule.id).toBe(a.id);
  });

  it('stop ends the transforms at once', () => {
    const rules = compileTransforms([rule(1, '^(\\d{4})$', '+463110$1', true), rule(2, '^\\+46(\\d+)$', 'never$1')]);
    const r = applyTransforms('0200', rules);
    expect(r.result).toBe('+4631100200');
    expect(r.stopped).toBe(true);
    expect(r.steps).toHaveLength(1);
  });

  it('runs another pass when a later rule produces input for an earlier one', () => {
    const rules = compileTransforms([rule(1, '^short(\\d)$', '+4610$1'), rule(2, '^x(\\d)$', 'short$1')]);
    const r = applyTransforms('x7', rules);
    expect(r.result).toBe('+46107');
    expect(r.steps.map((s) => s.pass)).toEqual([1, 2]);
  });

  it('reports a rewrite loop as unsettled after the bounded passes', () => {
    const rules = compileTransforms([rule(1, '^1(\\d+)$', '2$1'), rule(2, '^2(\\d+)$', '3$1'), rule(3, '^3(\\d+)$', '1$1')]);
    const r = applyTransforms('1555', rules);
    expect(r.settled).toBe(false);
    expect(Math.max(...r.steps.map((s) => s.pass))).toBe(MAX_TRANSFORM_PASSES);
  });

  it('stops a rule that grows the string without bound', () => {
    const r = applyTransforms('1', compileTransforms([rule(1, '^(\\d{1,300})$', '$1$1')]));
    expect(r.settled).toBe(false);
  });
});
