/**
 * The one place that decides which organisation a caller may see and change. Operators act
 * for every organisation; everyone else only for their own. The router applies `assertOwns`
 * to every route that addresses a resource (it refuses to register such a route without an
 * owner lookup), and handlers get the organisation of a list or a new resource only through
 * `listOrg`/`createOrg`, so no handler can forget the check.
 *
 * Another organisation's resource is answered 404, not 403: a caller cannot even learn that
 * it exists.
 */
import { ApiProblem, forbidden, notFound } from './errors.js';
import type { Principal, Role } from './identity.js';

const RANK: Record<Role, number> = { booker: 1, 'org-admin': 2, operator: 3 };

export class Scope {
  constructor(readonly principal: Principal) {}

  get isOperator(): boolean {
    return this.principal.role === 'operator';
  }

  /** Organisation a list is limited to; undefined (all) only for an operator who asked for none. */
  listOrg(requested: string | undefined): string | undefined {
    if (this.isOperator) return requested;
    const own = this.principal.org as string;
    if (requested !== undefined && requested !== own) throw forbidden(`you may only list your own organisation (${own})`);
    return own;
  }

  /** Organisation a new resource is created in: the caller's own, or the operator's choice. */
  createOrg(requested: string | undefined): string {
    if (this.isOperator) {
      if (requested === undefined) throw new ApiProblem(422, 'invalid', 'an operator must say which organisation (org) the new resource belongs to');
      return requested;
    }
    const own = this.principal.org as string;
    if (requested !== undefined && requested !== own) throw forbidden(`you may only create resources in your own organisation (${own})`);
    return own;
  }

  /** Refuses (404) a resource that does not exist or belongs to another organisation. */
  assertOwns(owner: string | null | undefined, what: string): void {
    if (owner === undefined) throw notFound(`no ${what}`);
    if (this.isOperator) return;
    if (owner === null || owner !== this.principal.org) throw notFound(`no ${what}`);
  }

  /** A caller may hand out at most its own role (an org-admin cannot make an operator). */
  assertCanGrant(role: Role): void {
    if (RANK[role] > RANK[this.principal.role]) throw forbidden(`a ${this.principal.role} cannot grant the role ${role}`);
  }
}
