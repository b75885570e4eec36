/**
 * The OpenAPI 3.1 document served at /api/openapi.json, generated from the route table and
 * the named schemas: what is described is exactly what is validated.
 */
import type { JsonSchema } from './json-schema.js';
import type { RouteDef } from './router.js';
import { components, ref } from './schemas.js';

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });

export function buildOpenApi(routes: readonly RouteDef[], version = '1.0.0'): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const queryParams = (r.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, schema: q.schema, ...(q.description ? { description: q.description } : {}) }));
    const responses: Record<string, unknown> = {
      [String(r.response.status)]: r.response.schema
        ? { description: 'success', content: { 'application/json': { schema: r.response.schema } } }
        : { description: 'done, no content' },
      '400': problemResponse('the request does not match the schema'),
      '429': problemResponse('too many requests; wait Retry-After seconds'),
    };
    if (r.roles !== 'public') {
      responses['401'] = problemResponse('no valid client certificate or bearer token');
      responses['403'] = problemResponse('the caller\'s role may not do this');
    }
    if (r.owner || /\{/.test(r.path)) responses['404'] = problemResponse('no such resource in the caller\'s organisation');
    if (r.method !== 'GET' && r.method !== 'DELETE') responses['409'] = problemResponse('conflicts with existing data');
    if (r.body) responses['422'] = problemResponse('well-formed but refused by a business rule');
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      ...(r.roles === 'public' ? { security: [] } : { 'x-roles': r.roles }),
      ...(pathParams.length + queryParams.length > 0 ? { parameters: [...pathParams, ...queryParams] } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'knude administration and booking API',
      version,
      description:
        'Organisations, users, SIP accounts, rooms, bookings with SMS/e-mail invitations, templates, service windows, abuse blocks and the audit log. ' +
        'TLS 1.3 only. Authenticate with a client certificate from the configured CA (mapped to an organisation and role) or a bearer token. ' +
        'Every call is scoped to the caller\'s organisation (operators: all) and audit-logged. Errors are RFC 9457 problem+json.',
      license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    security: [{ mutualTLS: [] }, { bearer: [] }],
    paths,
    components: {
      schemas: components as Record<string, JsonSchema>,
      securitySchemes: {
        mutualTLS: { type: 'mutualTLS', description: 'client certificate issued by the configured CA and mapped by its SHA-256 fingerprint' },
        bearer: { type: 'http', scheme: 'bearer', description: 'token from POST /api/v1/session or POST /api/v1/tokens' },
      },
    },
  };
}
