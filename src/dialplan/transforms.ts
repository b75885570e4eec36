/**
 * Transform rules: ordered regex rewrites of the dialled string ("9 for an outside line",
 * short extensions, domain renames). The regexes are written by operators but run on input
 * from anyone on the internet, so they are checked for the usual catastrophic-backtracking
 * shapes before they are stored, always anchored, and only ever see input capped at
 * MAX_DIAL_LENGTH characters.
 */
import { PlanValidationError, printable } from './errors.js';
import { MAX_DIAL_LENGTH } from './normalize.js';
import type { TransformRule } from './types.js';

export const MAX_PATTERN_LENGTH = 200;
export const MAX_REPLACE_LENGTH = 200;
/** How often the rule list is run over a string that keeps changing before we call it a loop. */
export const MAX_TRANSFORM_PASSES = 4;
/**
 * Each unbounded quantifier that can overlap the next one multiplies the backtracking work by
 * the input length; two keep the worst case at n² (65k steps for 256 characters).
 */
const MAX_UNBOUNDED_QUANTIFIERS = 2;

export interface CompiledTransform {
  rule: TransformRule;
  re: RegExp;
}

export type TransformInput = Omit<TransformRule, 'id'>;

/** Validates and normalises a rule; throws PlanValidationError naming what is wrong. */
export function checkTransform(input: Partial<TransformInput>): TransformInput {
  const { priority, match, replace } = input;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 1_000_000) {
    throw new PlanValidationError('transform priority must be an integer 0-1000000');
  }
  if (typeof match !== 'string' || match.length === 0) throw new PlanValidationError('transform match must be a non-empty regular expression');
  if (typeof replace !== 'string') throw new PlanValidationError('transform replace must be a string');
  if (replace.length > MAX_REPLACE_LENGTH) throw new PlanValidationError(`transform replace longer than ${MAX_REPLACE_LENGTH} characters`);
  if (input.description !== undefined && typeof input.description !== 'string') throw new PlanValidationError('transform description must be a string');
  compilePattern(match);
  const groups = new RegExp(`(?:${match})|`, 'u').exec('')!.length - 1;
  for (const m of replace.matchAll(/\$(\d{1,2})/g)) {
    const n = Number(m[1]);
    if (n === 0 || n > groups) {
      throw new PlanValidationError(`transform replace "${printable(replace)}" refers to $${n} but /${printable(match)}/ has ${groups} group${groups === 1 ? '' : 's'}`);
    }
  }
  return { priority, match, replace, stop: input.stop === true, description: input.description ?? '' };
}

/** Compiles a pattern anchored to the whole string, after the safety checks. */
export function compilePattern(pattern: string): RegExp {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new PlanValidationError(`transform match longer than ${MAX_PATTERN_LENGTH} characters`);
  checkPatternSafety(pattern);
  try {
    // Wrapping in ^(?:…)$ anchors the rule whether or not the operator wrote ^ and $.
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (e) {
    throw new PlanValidationError(`transform match /${printable(pattern)}/ is not a valid regular expression: ${(e as Error).message}`);
  }
}

interface Frame {
  /** The group contains an unbounded quantifier or alternation somewhere inside. */
  risky: boolean;
}

/**
 * Refuses the shapes that make backtracking exponential: a quantified group that itself
 * contains a quantifier or alternation ((a+)+, (a|a)*, (\d{2,})*), backreferences, and more
 * than MAX_UNBOUNDED_QUANTIFIERS unbounded quantifiers. Conservative on purpose: dial-plan
 * rules do not need these, and a character class or bounded {n,m} says the same safely.
 */
export function checkPatternSafety(pattern: string): void {
  const refuse = (why: string): never => {
    throw new PlanValidationError(`transform match /${printable(pattern)}/ refused: ${why}`);
  };
  const stack: Frame[] = [{ risky: false }];
  let unbounded = 0;
  let lastGroup: Frame | null = null; // the group just closed, if the previous atom was a group
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    let quant: 'unbounded' | 'bounded' | null = null;
    let atomGroup: Frame | null = null;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== undefined && /[1-9k]/.test(n)) refuse('backreferences are not allowed');
      i++;
    } else if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') {
        if (pattern[i] === '\\') i++;
        i++;
      }
    } else if (c === '(') {
      stack.push({ risky: false });
    } else if (c === ')') {
      if (stack.length === 1) refuse('unbalanced )');
      atomGroup = stack.pop()!;
    } else if (c === '|') {
      stack[stack.length - 1]!.risky = true;
    } else if (c === '*' || c === '+') {
      quant = 'unbounded';
    } else if (c === '?') {
      quant = pattern[i - 1] === '(' ? null : 'bounded';
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (m) {
        quant = m[2] !== undefined && m[3] === '' ? 'unbounded' : Number(m[3] ?? m[1]) > 1 ? 'bounded' : null;
        i += m[0].length - 1;
      }
    }
    if (quant !== null) {
      if (pattern[i + 1] === '?') i++; // lazy modifier
      if (lastGroup && lastGroup.risky && (quant === 'unbounded' || c === '{')) {
        refuse('a repeated group contains a quantifier or alternation (nested quantifiers backtrack exponentially)');
      }
      if (quant === 'unbounded') {
        unbounded++;
        stack[stack.length - 1]!.risky = true;
      }
      if (lastGroup?.risky) stack[stack.length - 1]!.risky = true;
      lastGroup = null;
      continue;
    }
    if (atomGroup) {
      if (atomGroup.risky) stack[stack.length - 1]!.risky = true;
      lastGroup = atomGroup;
    } else {
      lastGroup = null;
    }
  }
  if (stack.length !== 1) refuse('unbalanced (');
  if (unbounded > MAX_UNBOUNDED_QUANTIFIERS) {
    refuse(`more than ${MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers (*, +, {n,}); use bounded {n,m}`);
  }
}

export function compileTransforms(rules: readonly TransformRule[]): CompiledTransform[] {
  return [...rules]
    .sort((a, b) => a.priority - b.priority || a.id - b.id)
    .map((rule) => ({ rule, re: compilePattern(rule.match) }));
}

export interface TransformStep {
  rule: TransformRule;
  pass: number;
  from: string;
  to: string;
}

export interface TransformResult {
  result: string;
  steps: TransformStep[];
  /** False when the string still changed in the last allowed pass (a rewrite loop). */
  settled: boolean;
  /** A rule with stop:true matched. */
  stopped: boolean;
}

/**
 * Runs the rules in priority order, each on the output of the previous one. If a pass changed
 * the string, the list runs again (rules may feed each other), up to MAX_TRANSFORM_PASSES.
 */
export function applyTransforms(subject: string, rules: readonly CompiledTransform[], maxPasses = MAX_TRANSFORM_PASSES): TransformResult {
  const steps: TransformStep[] = [];
  let current = subject;
  if (rules.length === 0) return { result: current, steps, settled: true, stopped: false };
  for (let pass = 1; pass <= maxPasses; pass++) {
    // "Changed" means some rule rewrote something, even if a cycle of rules led back to the
    // string the pass started with: that cycle would repeat forever.
    let changed = false;
    for (const { rule, re } of rules) {
      if (!re.test(current)) continue;
      const to = current.replace(re, rule.replace);
      steps.push({ rule, pass, from: current, to });
      if (to !== current) changed = true;
      current = to;
      if (current.length > MAX_DIAL_LENGTH) return { result: current, steps, settled: false, stopped: false };
      if (rule.stop) return { result: current, steps, settled: true, stopped: true };
    }
    if (!changed) return { result: current, steps, settled: true, stopped: false };
  }
  return { result: current, steps, settled: false, stopped: false };
}
