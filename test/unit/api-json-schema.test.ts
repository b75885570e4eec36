import { describe, expect, it } from 'vitest';
import { SchemaDefinitionError, SchemaValidator, type JsonSchema } from '../../src/api/v1/json-schema.js';
import { components } from '../../src/api/v1/schemas.js';

const v = new SchemaValidator({
  Pin: { type: 'string', pattern: '^[0-9]{4,12}$' },
  Person: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 5 }, pin: { $ref: '#/components/schemas/Pin' } }, required: ['name'], additionalProperties: false },
});
const ref = (n: string): JsonSchema => ({ $ref: `#/components/schemas/${n}` });

describe('JSON Schema subset validator', () => {
  it('types, including integer vs number and null unions', () => {
    expect(v.validate({ type: 'integer' }, 3)).toEqual([]);
    expect(v.validate({ type: 'integer' }, 3.5)).toEqual([{ path: '', message: 'must be integer, not number' }]);
    expect(v.validate({ type: 'number' }, 3)).toEqual([]);
    expect(v.validate({ type: ['string', 'null'] }, null)).toEqual([]);
    expect(v.validate({ type: 'object' }, [])).toEqual([{ path: '', message: 'must be object, not array' }]);
    expect(v.validate({ type: 'boolean' }, 'true')).toHaveLength(1);
  });

  it('required, additionalProperties:false and $ref, with JSON Pointer paths', () => {
    expect(v.validate(ref('Person'), { name: 'Ann', pin: '1234' })).toEqual([]);
    expect(v.validate(ref('Person'), { pin: '12', extra: 1, 'a/b': 2 })).toEqual([
      { path: '/name', message: 'is required' },
      { path: '/pin', message: 'must match ^[0-9]{4,12}$' },
      { path: '/extra', message: 'is not a known field' },
      { path: '/a~1b', message: 'is not a known field' },
    ]);
  });

  it('string length counts code points; enum, const, minimum/maximum', () => {
    expect(v.validate({ type: 'string', maxLength: 2 }, '😀😀')).toEqual([]);
    expect(v.validate({ type: 'string', minLength: 3 }, 'ab')).toEqual([{ path: '', message: 'must be at least 3 characters' }]);
    expect(v.validate({ enum: ['a', 'b'] }, 'c')[0]?.message).toBe('must be one of "a", "b"');
    expect(v.validate({ const: 1 }, 2)).toHaveLength(1);
    expect(v.validate({ type: 'integer', minimum: 2, maximum: 100 }, 1)[0]?.message).toBe('must be at least 2');
    expect(v.validate({ type: 'integer', minimum: 2, maximum: 100 }, 101)[0]?.message).toBe('must be at most 100');
  });

  it('formats: date-time needs a zone and a real date, e-mail a plain address', () => {
    const dt: JsonSchema = { type: 'string', format: 'date-time' };
    expect(v.validate(dt, '2025-03-01T13:00:00+01:00')).toEqual([]);
    expect(v.validate(dt, '2025-03-01T13:00:00.123Z')).toEqual([]);
    expect(v.validate(dt, '2025-03-01T13:00:00')).toHaveLength(1);
    expect(v.validate(dt, '2025-13-01T13:00:00Z')).toHaveLength(1);
    const email: JsonSchema = { type: 'string', format: 'email' };
    expect(v.validate(email, 'anna@region.example')).toEqual([]);
    for (const bad of ['anna', 'anna@', 'a b@x.dk', 'anna@localhost', 'a@b@c.dk']) expect(v.validate(email, bad), bad).toHaveLength(1);
  });

  it('arrays: items, minItems, maxItems', () => {
    const s: JsonSchema = { type: 'array', minItems: 1, maxItems: 2, items: { type: 'integer' } };
    expect(v.validate(s, [1])).toEqual([]);
    expect(v.validate(s, [])).toEqual([{ path: '', message: 'must have at least 1 items' }]);
    expect(v.validate(s, [1, 'x', 3])).toEqual([
      { path: '', message: 'must have at most 2 items' },
      { path: '/1', message: 'must be integer, not string' },
    ]);
  });

  it('oneOf: exactly one; anyOf: at least one', () => {
    const one: JsonSchema = { type: 'object', oneOf: [{ required: ['a'] }, { required: ['b'] }] };
    expect(v.validate(one, { a: 1 })).toEqual([]);
    expect(v.validate(one, { a: 1, b: 2 })[0]?.message).toBe('matches more than one of the allowed forms');
    expect(v.validate(one, {})[0]?.message).toBe('matches none of the allowed forms');
    expect(v.validate({ anyOf: [{ type: 'string' }, { type: 'integer' }] }, true)).toHaveLength(1);
  });

  it('refuses unknown keywords, dangling $refs and bad patterns when compiled', () => {
    expect(() => new SchemaValidator({ X: { type: 'string', uniqueItems: true } as unknown as JsonSchema })).toThrow(SchemaDefinitionError);
    expect(() => new SchemaValidator({ X: { $ref: '#/components/schemas/Nope' } })).toThrow(/does not resolve/);
    expect(() => new SchemaValidator({ X: { type: 'string', pattern: '(' } })).toThrow(/not a valid regular expression/);
  });

  it('compiles every schema of the API document', () => {
    expect(() => new SchemaValidator(components)).not.toThrow();
    const api = new SchemaValidator(components);
    expect(api.validate(ref('NewBooking'), { title: 'x', start: '2030-01-01T10:00:00Z', end: '2030-01-01T11:00:00Z', participants: [{ name: 'A', phone: '+4512345678' }] })).toEqual([]);
    expect(api.validate(ref('NewClientCertificate'), { role: 'booker', label: 'x' })[0]?.message).toBe('matches none of the allowed forms');
  });

  it('stops at the issue limit on hostile input', () => {
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    expect(v.validate(ref('Person'), many)).toHaveLength(20);
  });
});
