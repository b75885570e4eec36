/**
 * Route table of the API: each route declares who may call it, its request and response
 * schemas (the OpenAPI document is generated from these declarations, so the two cannot
 * drift) and, when it addresses one resource, how to find the organisation owning it.
 */
import type { Role, Principal } from './identity.js';
import type { JsonSchema } from './json-schema.js';
import type { Scope } from './scope.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestContext<B = any> {
  principal: Principal;
  scope: Scope;
  params: Record<string, string>;
  query: Record<string, string | number | boolean>;
  body: B;
  ip: string;
}

export interface HandlerResult {
  status?: number;
  body?: unknown;
}

export interface QueryParam {
  name: string;
  schema: JsonSchema;
  description?: string;
}

export interface RouteDef {
  method: Method;
  /** OpenAPI path template, e.g. '/api/v1/rooms/{id}'. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Roles that may call it; 'public' routes need no authentication at all. */
  roles: readonly Role[] | 'public';
  query?: QueryParam[];
  body?: JsonSchema;
  /** Success status and body schema (none for 204). */
  response: { status: number; schema?: JsonSchema };
  /**
   * The organisation owning the resource the path names (null: belongs to no organisation,
   * operators only; undefined: does not exist). Required for every non-operator route with
   * path parameters: the router refuses a route table that leaves one out.
   */
  owner?: (params: Record<string, string>) => string | null | undefined;
  /** What the owner lookup names in a 404, e.g. 'room'. */
  resource?: string;
  handler: (ctx: RequestContext) => HandlerResult | Promise<HandlerResult>;
}

export class RouteTableError extends Error {
  override name = 'RouteTableError';
}

interface Compiled {
  route: RouteDef;
  re: RegExp;
  names: string[];
}

export class Router {
  private readonly compiled: Compiled[];

  constructor(readonly routes: readonly RouteDef[]) {
    const seen = new Set<string>();
    this.compiled = routes.map((route) => {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) throw new RouteTableError(`route ${key} is declared twice`);
      seen.add(key);
      const names: string[] = [];
      const re = new RegExp(
        `^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
          names.push(name);
          return '([^/]+)';
        })}$`,
      );
      const operatorOnly = route.roles !== 'public' && route.roles.every((r) => r === 'operator');
      if (names.length > 0 && !operatorOnly && route.roles !== 'public' && !route.owner) {
        throw new RouteTableError(`route ${key} addresses a resource but declares no owner: every such route must be scoped to an organisation`);
      }
      return { route, re, names };
    });
  }

  /** The route and its decoded path parameters; `methods` lists what the path allows when the method does not match. */
  match(method: string, pathname: string): { route: RouteDef; params: Record<string, string> } | { methods: string[] } | undefined {
    const methods: string[] = [];
    for (const c of this.compiled) {
      const m = c.re.exec(pathname);
      if (!m) continue;
      if (c.route.method !== method) {
        methods.push(c.route.method);
        continue;
      }
      const params: Record<string, string> = {};
      try {
        c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] as string)));
      } catch {
        return undefined;
      }
      return { route: c.route, params };
    }
    return methods.length > 0 ? { methods } : undefined;
  }
}
