/**
 * The subset of JSON Schema (2020-12, as used by OpenAPI 3.1) the API's own document uses:
 * type (one or a list, with 'integer' and 'null'), required, properties, additionalProperties
 * (false or a schema), enum, const, pattern, minLength/maxLength, minimum/maximum,
 * minItems/maxItems, items, oneOf, anyOf, format (date-time, email, uri) and local $ref
 * ('#/components/schemas/Name'). Small on purpose: every keyword here is exercised by the
 * document, and an unknown keyword is an error when the document is compiled, not silently
 * ignored.
 */

export interface JsonSchema {
  $ref?: string;
  type?: JsonType | JsonType[];
  required?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  enum?: readonly unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  format?: 'date-time' | 'email' | 'uri';
  /** Annotations, ignored by validation. */
  description?: string;
  title?: string;
  example?: unknown;
  examples?: unknown[];
  default?: unknown;
  readOnly?: boolean;
  writeOnly?: boolean;
  deprecated?: boolean;
  contentEncoding?: string;
  contentMediaType?: string;
}

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

export interface SchemaIssue {
  /** JSON Pointer into the validated value ('' is the value itself). */
  path: string;
  message: string;
}

const KNOWN = new Set<string>([
  '$ref', 'type', 'required', 'properties', 'additionalProperties', 'enum', 'const', 'pattern', 'minLength', 'maxLength',
  'minimum', 'maximum', 'minItems', 'maxItems', 'items', 'oneOf', 'anyOf', 'format', 'description', 'title', 'example',
  'examples', 'default', 'readOnly', 'writeOnly', 'deprecated', 'contentEncoding', 'contentMediaType',
]);

export class SchemaDefinitionError extends Error {
  override name = 'SchemaDefinitionError';
}

// RFC 3339 date-time (the profile of ISO 8601 JSON uses), with the calendar checked by Date.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
// Deliberately plain: one @, a dotted domain, no spaces or control characters.
const EMAIL = /^[^\s@\u0000-\u001f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function typeOf(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A validator bound to a set of named schemas that `$ref`s resolve against. */
export class SchemaValidator {
  private readonly patterns = new Map<string, RegExp>();

  constructor(private readonly components: Record<string, JsonSchema> = {}) {
    for (const [name, s] of Object.entries(components)) this.check(s, `#/components/schemas/${name}`);
  }

  /** Refuses unknown keywords, unresolvable $refs and bad patterns when the document is built. */
  check(schema: JsonSchema, where: string): void {
    for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new SchemaDefinitionError(`${where}: keyword "${k}" is not supported by the validator`);
    if (schema.$ref !== undefined && !this.components[refName(schema.$ref)]) throw new SchemaDefinitionError(`${where}: $ref ${schema.$ref} does not resolve`);
    if (schema.pattern !== undefined) this.regex(schema.pattern);
    for (const [k, s] of Object.entries(schema.properties ?? {})) this.check(s, `${where}/properties/${k}`);
    if (typeof schema.additionalProperties === 'object') this.check(schema.additionalProperties, `${where}/additionalProperties`);
    if (schema.items) this.check(schema.items, `${where}/items`);
    schema.oneOf?.forEach((s, i) => this.check(s, `${where}/oneOf/${i}`));
    schema.anyOf?.forEach((s, i) => this.check(s, `${where}/anyOf/${i}`));
  }

  /** Every problem found (empty when valid), at most `limit` of them. */
  validate(schema: JsonSchema, value: unknown, limit = 20): SchemaIssue[] {
    const issues: SchemaIssue[] = [];
    this.walk(schema, value, '', issues, limit);
    return issues;
  }

  private regex(pattern: string): RegExp {
    let re = this.patterns.get(pattern);
    if (!re) {
      try {
        re = new RegExp(pattern, 'u');
      } catch (e) {
        throw new SchemaDefinitionError(`pattern ${pattern} is not a valid regular expression: ${(e as Error).message}`);
      }
      this.patterns.set(pattern, re);
    }
    return re;
  }

  private walk(schema: JsonSchema, v: unknown, path: string, out: SchemaIssue[], limit: number): void {
    if (out.length >= limit) return;
    const fail = (message: string): void => {
      if (out.length < limit) out.push({ path, message });
    };
    if (schema.$ref !== undefined) {
      const target = this.components[refName(schema.$ref)];
      if (!target) return fail(`schema ${schema.$ref} is not defined`);
      this.walk(target, v, path, out, limit);
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      const t = typeOf(v);
      const ok = types.includes(t) || (t === 'integer' && types.includes('number'));
      if (!ok) return fail(`must be ${types.join(' or ')}, not ${t}`);
    }
    if (schema.enum !== undefined && !schema.enum.some((e) => deepEqual(e, v))) {
      return fail(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
    }
    if (schema.const !== undefined && !deepEqual(schema.const, v)) return fail(`must be ${JSON.stringify(schema.const)}`);
    if (typeof v === 'string') {
      const length = [...v].length;
      if (schema.minLength !== undefined && length < schema.minLength) fail(`must be at least ${schema.minLength} characters`);
      if (schema.maxLength !== undefined && length > schema.maxLength) fail(`must be at most ${schema.maxLength} characters`);
      if (schema.pattern !== undefined && !this.regex(schema.pattern).test(v)) fail(`must match ${schema.pattern}`);
      if (schema.format === 'date-time' && !(DATE_TIME.test(v) && Number.isFinite(Date.parse(v)))) fail('must be an RFC 3339 date-time with a time zone, e.g. 2025-03-01T13:00:00+01:00');
      if (schema.format === 'email' && !EMAIL.test(v)) fail('must be an e-mail address');
      if (schema.format === 'uri' && !URL.canParse(v)) fail('must be an absolute URI');
    }
    if (typeof v === 'number') {
      if (schema.minimum !== undefined && v < schema.minimum) fail(`must be at least ${schema.minimum}`);
      if (schema.maximum !== undefined && v > schema.maximum) fail(`must be at most ${schema.maximum}`);
    }
    if (Array.isArray(v)) {
      if (schema.minItems !== undefined && v.length < schema.minItems) fail(`must have at least ${schema.minItems} items`);
      if (schema.maxItems !== undefined && v.length > schema.maxItems) fail(`must have at most ${schema.maxItems} items`);
      if (schema.items) for (let i = 0; i < v.length && out.length < limit; i++) this.walk(schema.items, v[i], `${path}/${i}`, out, limit);
    }
    if (typeOf(v) === 'object') {
      const obj = v as Record<string, unknown>;
      for (const r of schema.required ?? []) if (!(r in obj) && out.length < limit) out.push({ path: `${path}/${escapePointer(r)}`, message: 'is required' });
      for (const [k, val] of Object.entries(obj)) {
        if (out.length >= limit) break;
        const child = `${path}/${escapePointer(k)}`;
        const prop = schema.properties?.[k];
        if (prop) this.walk(prop, val, child, out, limit);
        else if (schema.additionalProperties === false) out.push({ path: child, message: 'is not a known field' });
        else if (typeof schema.additionalProperties === 'object') this.walk(schema.additionalProperties, val, child, out, limit);
      }
    }
    if (schema.oneOf) {
      const matching = schema.oneOf.filter((s) => this.validate(s, v, 1).length === 0).length;
      if (matching !== 1) fail(matching === 0 ? 'matches none of the allowed forms' : 'matches more than one of the allowed forms');
    }
    if (schema.anyOf && !schema.anyOf.some((s) => this.validate(s, v, 1).length === 0)) fail('matches none of the allowed forms');
  }
}

function refName(ref: string): string {
  const prefix = '#/components/schemas/';
  return ref.startsWith(prefix) ? ref.slice(prefix.length) : '\u0000';
}
