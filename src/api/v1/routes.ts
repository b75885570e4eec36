/**
 * The resources of /api/v1. Handlers are thin: the router has already authenticated the
 * caller, checked the role, validated the body against its schema and checked that the
 * addressed resource belongs to the caller's organisation; domain errors are thrown as they
 * are and mapped to problems in errors.ts.
 */
import { X509Certificate } from 'node:crypto';
import type { CapacityUsage } from '../../capacity/types.js';
import type { DialPlanStore } from '../../dialplan/index.js';
import type { AccountStore, Account } from '../../registrar/accounts.js';
import type { Room, RoomBranding, RoomPatch, RoomStore } from '../../rooms/store.js';
import { HashedPin } from '../../rooms/pins.js';
import type { AbuseBlocks } from './abuse.js';
import type { AuditLog } from './audit.js';
import { RoomLogos, sanitiseLogo } from './branding.js';
import type { Bookings, ServiceWindows } from './bookings.js';
import type { ApiConfig } from './config.js';
import { ApiProblem, forbidden, notFound } from './errors.js';
import type { IdentityStore, Role } from './identity.js';
import type { Outbox } from './notify.js';
import type { QueryParam, RouteDef } from './router.js';
import { listOf, ref } from './schemas.js';

export interface ApiServices {
  config: ApiConfig;
  plan: DialPlanStore;
  rooms: RoomStore;
  accounts: AccountStore;
  sipDomain: string;
  identity: IdentityStore;
  audit: AuditLog;
  bookings: Bookings;
  outbox: Outbox;
  serviceWindows: ServiceWindows;
  abuse: AbuseBlocks;
  logos: RoomLogos;
  /** Current capacity use (the capacity ledger's usage()); absent on a node without capacity tracking. */
  usage?: () => Promise<CapacityUsage>;
  /** Who is registered now, SIP and H.323 side by side. */
  registrations?: () => Array<{ protocol: 'sip' | 'h323'; id: string; org: string | null; aliases: string[]; contact: string; userAgent: string | null; expiresAt: string }>;
  /** The monthly KPI report with its SVG charts (src/stats/report.ts); throws on a bad month. */
  monthlyReport?: (month: string) => { month: string; kpis: Record<string, unknown>; charts: { portsDay: string; dailyMinutes: string; licencesMonth: string } };
}

const ALL: readonly Role[] = ['operator', 'org-admin', 'booker'];
const ADMINS: readonly Role[] = ['operator', 'org-admin'];
const OPERATOR: readonly Role[] = ['operator'];

const orgQuery: QueryParam = { name: 'org', schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$' }, description: 'operators: only this organisation' };
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function buildRoutes(s: ApiServices): RouteDef[] {
  const orgView = (name: string) => {
    const org = s.plan.getOrg(name);
    if (!org) throw notFound(`no organisation ${name}`);
    return { ...org, blocks: s.plan.listBlocks(name).map((b) => `+${b.prefix}`), domains: s.plan.listDomains(name).map((d) => d.domain) };
  };
  const roomView = (r: Room) => {
    const logo = s.logos.get(r.id);
    return {
      id: r.id,
      name: r.name,
      org: r.org,
      kind: r.kind,
      ...(r.validFrom ? { validFrom: r.validFrom } : {}),
      ...(r.validUntil ? { validUntil: r.validUntil } : {}),
      maxParticipants: r.maxParticipants,
      hostPin: !!r.hostPin,
      guestPin: !!r.guestPin,
      lobby: r.lobby,
      locked: r.locked,
      ...(r.branding?.color ? { color: r.branding.color } : {}),
      ...(logo ? { logo } : {}),
      aliases: s.rooms.aliasesOf(r.id),
      createdAt: r.createdAt,
    };
  };
  const accountKey = (a: Pick<Account, 'username' | 'realm'>): string => `${a.username}@${a.realm}`;
  const findAccount = (key: string): Account | undefined => {
    const at = key.lastIndexOf('@');
    if (at <= 0) return undefined;
    try {
      return s.accounts.get(key.slice(0, at), key.slice(at + 1));
    } catch {
      return undefined;
    }
  };
  const accountAliases = (a: Account): string[] =>
    s.plan
      .listAliases({ org: a.org })
      .filter((x) => x.kind === 'account' && x.target === accountKey(a))
      .map((x) => x.alias);
  const accountView = (a: Account) => ({
    id: accountKey(a),
    org: a.org,
    username: a.username,
    realm: a.realm,
    ...(a.displayName ? { displayName: a.displayName } : {}),
    aliases: accountAliases(a),
    createdAt: a.createdAt,
  });
  const requireOrg = (name: string): void => {
    if (!s.plan.getOrg(name)) throw new ApiProblem(422, 'invalid', `no organisation named ${name}`);
  };
  const tokenOwner = (id: string): string | null | undefined => {
    const t = s.identity.getToken(id);
    return t ? (s.identity.getUser(t.userId)?.org ?? null) : undefined;
  };

  return [
    // ---- who am I, sign-in ---------------------------------------------------------------
    {
      method: 'POST', path: '/api/v1/session', operationId: 'signIn', tag: 'session', roles: 'public',
      summary: 'Sign in with user name and password (admin pages); returns a bearer token',
      body: ref('Login'), response: { status: 201, schema: ref('Session') },
      handler: ({ body }) => {
        const user = s.identity.checkPassword(body.username, body.password);
        if (!user) throw new ApiProblem(401, 'unauthorized', 'wrong user name or password', {});
        const issued = s.identity.issueToken(user.id, 'sign-in', s.config.tokenLifetimeSeconds);
        return { status: 201, body: { token: issued.token, expiresAt: issued.expiresAt, user } };
      },
    },
    {
      method: 'GET', path: '/api/v1/me', operationId: 'whoAmI', tag: 'session', roles: ALL,
      summary: 'The authenticated caller: organisation and role', response: { status: 200, schema: ref('Me') },
      handler: ({ principal }) => ({ body: { actor: principal.actor, org: principal.org, role: principal.role, via: principal.via } }),
    },

    // ---- organisations -------------------------------------------------------------------
    {
      method: 'GET', path: '/api/v1/organisations', operationId: 'listOrganisations', tag: 'organisations', roles: ALL,
      summary: 'Organisations with their number blocks and domains (others see only their own)', response: { status: 200, schema: listOf('Organisation') },
      handler: ({ scope }) => ({ body: (scope.isOperator ? s.plan.listOrgs().map((o) => o.name) : [scope.principal.org as string]).filter((n) => s.plan.getOrg(n)).map(orgView) }),
    },
    {
      method: 'POST', path: '/api/v1/organisations', operationId: 'createOrganisation', tag: 'organisations', roles: OPERATOR,
      summary: 'Create an organisation with its number blocks and domains (all or nothing)', body: ref('NewOrganisation'), response: { status: 201, schema: ref('Organisation') },
      handler: ({ body }) => {
        s.plan.batch(() => {
          s.plan.createOrg({ name: body.name, ...(body.displayName ? { displayName: body.displayName } : {}) });
          for (const b of body.blocks ?? []) s.plan.addBlock(body.name, b);
          for (const d of body.domains ?? []) s.plan.addDomain(body.name, d);
        });
        return { status: 201, body: orgView(body.name) };
      },
    },
    {
      method: 'GET', path: '/api/v1/organisations/{org}', operationId: 'getOrganisation', tag: 'organisations', roles: ALL,
      summary: 'One organisation', response: { status: 200, schema: ref('Organisation') },
      resource: 'organisation', owner: (p) => (s.plan.getOrg(p.org as string) ? (p.org as string) : undefined),
      handler: ({ params }) => ({ body: orgView(params.org as string) }),
    },
    {
      method: 'PATCH', path: '/api/v1/organisations/{org}', operationId: 'updateOrganisation', tag: 'organisations', roles: OPERATOR,
      summary: 'Rename an organisation (display name)', body: ref('OrganisationPatch'), response: { status: 200, schema: ref('Organisation') },
      handler: ({ params, body }) => {
        s.plan.updateOrg(params.org as string, { displayName: body.displayName });
        return { body: orgView(params.org as string) };
      },
    },
    {
      method: 'POST', path: '/api/v1/organisations/{org}/blocks', operationId: 'addNumberBlock', tag: 'organisations', roles: OPERATOR,
      summary: 'Give an organisation an E.164 number block', body: ref('NewBlock'), response: { status: 201, schema: ref('Organisation') },
      handler: ({ params, body }) => {
        s.plan.addBlock(params.org as string, body.prefix);
        return { status: 201, body: orgView(params.org as string) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/organisations/{org}/blocks/{prefix}', operationId: 'removeNumberBlock', tag: 'organisations', roles: OPERATOR,
      summary: 'Take a number block away (refused while aliases use it)', response: { status: 204 },
      handler: ({ params }) => {
        const block = s.plan.listBlocks(params.org).find((b) => `+${b.prefix}` === params.prefix || b.prefix === params.prefix);
        if (!block) throw notFound(`organisation ${params.org} has no block ${params.prefix}`);
        s.plan.removeBlock(block.prefix);
        return { status: 204 };
      },
    },
    {
      method: 'POST', path: '/api/v1/organisations/{org}/domains', operationId: 'addDomain', tag: 'organisations', roles: OPERATOR,
      summary: 'Give an organisation a URI domain', body: ref('NewDomain'), response: { status: 201, schema: ref('Organisation') },
      handler: ({ params, body }) => {
        s.plan.addDomain(params.org as string, body.domain);
        return { status: 201, body: orgView(params.org as string) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/organisations/{org}/domains/{domain}', operationId: 'removeDomain', tag: 'organisations', roles: OPERATOR,
      summary: 'Take a URI domain away (refused while aliases use it)', response: { status: 204 },
      handler: ({ params }) => {
        if (!s.plan.listDomains(params.org).some((d) => d.domain === params.domain?.toLowerCase())) throw notFound(`organisation ${params.org} has no domain ${params.domain}`);
        s.plan.removeDomain(params.domain as string);
        return { status: 204 };
      },
    },

    // ---- users and tokens ----------------------------------------------------------------
    {
      method: 'GET', path: '/api/v1/users', operationId: 'listUsers', tag: 'users', roles: ADMINS, query: [orgQuery],
      summary: 'Users of the admin pages and API', response: { status: 200, schema: listOf('User') },
      handler: ({ scope, query }) => ({ body: s.identity.listUsers(scope.listOrg(str(query.org))) }),
    },
    {
      method: 'POST', path: '/api/v1/users', operationId: 'createUser', tag: 'users', roles: ADMINS,
      summary: 'Create a user (an org-admin may create org-admins and bookers of its organisation)', body: ref('NewUser'), response: { status: 201, schema: ref('User') },
      handler: ({ scope, body }) => {
        scope.assertCanGrant(body.role);
        const org = body.role === 'operator' ? (body.org ?? null) : scope.createOrg(body.org);
        if (org) requireOrg(org);
        return { status: 201, body: s.identity.createUser({ org, username: body.username, displayName: body.displayName, email: body.email, role: body.role, password: body.password }) };
      },
    },
    {
      method: 'GET', path: '/api/v1/users/{id}', operationId: 'getUser', tag: 'users', roles: ADMINS,
      summary: 'One user', response: { status: 200, schema: ref('User') }, resource: 'user',
      owner: (p) => { const u = s.identity.getUser(p.id as string); return u ? u.org : undefined; },
      handler: ({ params }) => ({ body: s.identity.getUser(params.id as string) }),
    },
    {
      method: 'PATCH', path: '/api/v1/users/{id}', operationId: 'updateUser', tag: 'users', roles: ADMINS,
      summary: 'Change a user (name, e-mail, role, password)', body: ref('UserPatch'), response: { status: 200, schema: ref('User') }, resource: 'user',
      owner: (p) => { const u = s.identity.getUser(p.id as string); return u ? u.org : undefined; },
      handler: ({ scope, params, body }) => {
        if (body.role) scope.assertCanGrant(body.role);
        return { body: s.identity.updateUser(params.id as string, body) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/users/{id}', operationId: 'deleteUser', tag: 'users', roles: ADMINS,
      summary: 'Delete a user and its tokens', response: { status: 204 }, resource: 'user',
      owner: (p) => { const u = s.identity.getUser(p.id as string); return u ? u.org : undefined; },
      handler: ({ params }) => {
        s.identity.deleteUser(params.id as string);
        return { status: 204 };
      },
    },
    {
      method: 'GET', path: '/api/v1/tokens', operationId: 'listTokens', tag: 'users', roles: ADMINS, query: [orgQuery],
      summary: 'Bearer tokens (never their secrets)', response: { status: 200, schema: listOf('Token') },
      handler: ({ scope, query }) => {
        const org = scope.listOrg(str(query.org));
        const userIds = org === undefined ? undefined : s.identity.listUsers(org).map((u) => u.id);
        return { body: s.identity.listTokens(userIds ? { userIds } : {}) };
      },
    },
    {
      method: 'POST', path: '/api/v1/tokens', operationId: 'createToken', tag: 'users', roles: ALL,
      summary: 'Issue a bearer token for a user (your own when userId is left out); the secret is shown once', body: ref('NewToken'), response: { status: 201, schema: ref('IssuedToken') },
      handler: ({ scope, principal, body }) => {
        const userId: string | undefined = body.userId ?? principal.userId;
        if (!userId) throw new ApiProblem(422, 'invalid', 'a certificate is no user: name the user the token is for (userId)');
        const user = s.identity.getUser(userId);
        scope.assertOwns(user ? user.org : undefined, `user ${userId}`);
        if (principal.role === 'booker' && userId !== principal.userId) throw forbidden('a booker may only issue tokens for itself');
        scope.assertCanGrant((user as { role: Role }).role);
        return { status: 201, body: s.identity.issueToken(userId, body.label, body.lifetimeSeconds ?? s.config.tokenLifetimeSeconds) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/tokens/{id}', operationId: 'revokeToken', tag: 'users', roles: ADMINS,
      summary: 'Revoke a token', response: { status: 204 }, resource: 'token', owner: (p) => tokenOwner(p.id as string),
      handler: ({ params }) => {
        s.identity.revokeToken(params.id as string);
        return { status: 204 };
      },
    },
    {
      method: 'GET', path: '/api/v1/client-certificates', operationId: 'listClientCertificates', tag: 'users', roles: OPERATOR, query: [orgQuery],
      summary: 'Client certificates mapped to an organisation and role', response: { status: 200, schema: listOf('ClientCertificate') },
      handler: ({ query }) => ({ body: s.identity.listCertificates(str(query.org)) }),
    },
    {
      method: 'POST', path: '/api/v1/client-certificates', operationId: 'mapClientCertificate', tag: 'users', roles: OPERATOR,
      summary: 'Map a client certificate (PEM or SHA-256 fingerprint) to an organisation and role', body: ref('NewClientCertificate'), response: { status: 201, schema: ref('ClientCertificate') },
      handler: ({ body }) => {
        let fingerprint: string = body.fingerprint;
        let subject: string | undefined;
        if (body.certificate) {
          let cert: X509Certificate;
          try {
            cert = new X509Certificate(body.certificate);
          } catch {
            throw new ApiProblem(422, 'invalid', 'certificate is not a PEM X.509 certificate');
          }
          fingerprint = cert.fingerprint256;
          subject = cert.subject.replace(/\n/g, ', ');
        }
        if (body.role !== 'operator' && !body.org) throw new ApiProblem(422, 'invalid', `a ${body.role} certificate belongs to an organisation (org)`);
        if (body.org) requireOrg(body.org);
        return { status: 201, body: s.identity.mapCertificate({ fingerprint, org: body.org ?? null, role: body.role, label: body.label, ...(subject ? { subject } : {}) }) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/client-certificates/{fingerprint}', operationId: 'unmapClientCertificate', tag: 'users', roles: OPERATOR,
      summary: 'Remove a certificate mapping (the certificate no longer grants anything)', response: { status: 204 },
      handler: ({ params }) => {
        s.identity.unmapCertificate(params.fingerprint as string);
        return { status: 204 };
      },
    },

    // ---- SIP accounts --------------------------------------------------------------------
    {
      method: 'GET', path: '/api/v1/accounts', operationId: 'listAccounts', tag: 'accounts', roles: ADMINS, query: [orgQuery],
      summary: 'SIP accounts with their aliases', response: { status: 200, schema: listOf('Account') },
      handler: ({ scope, query }) => {
        const org = scope.listOrg(str(query.org));
        return { body: s.accounts.list(org === undefined ? {} : { org }).map(accountView) };
      },
    },
    {
      method: 'POST', path: '/api/v1/accounts', operationId: 'createAccount', tag: 'accounts', roles: ADMINS,
      summary: 'Create a SIP account (digest credentials) with aliases', body: ref('NewAccount'), response: { status: 201, schema: ref('Account') },
      handler: ({ scope, body }) => {
        const org = scope.createOrg(body.org);
        requireOrg(org);
        const realm: string = body.realm ?? s.sipDomain;
        // Accounts outside the node's own domain are an operator's decision (a digest realm
        // other than the node's never authenticates here otherwise).
        if (realm.toLowerCase() !== s.sipDomain.toLowerCase() && !scope.isOperator) throw forbidden(`only an operator may create accounts outside the realm ${s.sipDomain}`);
        // Account and aliases together: an alias the plan refuses leaves no account behind.
        const account = s.plan.batch(() => {
          const a = s.accounts.add({ org, username: body.username, password: body.password, realm, ...(body.displayName ? { displayName: body.displayName } : {}) });
          const aliases: string[] = body.aliases ?? [];
          if (aliases.length > 0) s.plan.addAliases(aliases.map((alias) => ({ alias, kind: 'account' as const, target: accountKey(a), org })));
          return a;
        });
        return { status: 201, body: accountView(account) };
      },
    },
    {
      method: 'GET', path: '/api/v1/accounts/{account}', operationId: 'getAccount', tag: 'accounts', roles: ADMINS,
      summary: 'One SIP account (user@realm)', response: { status: 200, schema: ref('Account') }, resource: 'account',
      owner: (p) => findAccount(p.account as string)?.org,
      handler: ({ params }) => ({ body: accountView(findAccount(params.account as string) as Account) }),
    },
    {
      method: 'DELETE', path: '/api/v1/accounts/{account}', operationId: 'deleteAccount', tag: 'accounts', roles: ADMINS,
      summary: 'Delete a SIP account and its aliases', response: { status: 204 }, resource: 'account',
      owner: (p) => findAccount(p.account as string)?.org,
      handler: ({ params }) => {
        const a = findAccount(params.account as string) as Account;
        s.plan.batch(() => {
          for (const alias of accountAliases(a)) s.plan.removeAlias(alias);
          s.accounts.remove(a.username, a.realm);
        });
        return { status: 204 };
      },
    },
    {
      method: 'PUT', path: '/api/v1/accounts/{account}/password', operationId: 'setAccountPassword', tag: 'accounts', roles: ADMINS,
      summary: 'Set a SIP account\'s password', body: ref('Password'), response: { status: 204 }, resource: 'account',
      owner: (p) => findAccount(p.account as string)?.org,
      handler: ({ params, body }) => {
        const a = findAccount(params.account as string) as Account;
        s.accounts.setPassword(a.username, a.realm, body.password);
        return { status: 204 };
      },
    },
    {
      method: 'POST', path: '/api/v1/accounts/{account}/aliases', operationId: 'addAccountAlias', tag: 'accounts', roles: ADMINS,
      summary: 'Add an alias (E.164 or URI of the organisation) reaching the account', body: ref('NewAlias'), response: { status: 201, schema: ref('Account') }, resource: 'account',
      owner: (p) => findAccount(p.account as string)?.org,
      handler: ({ params, body }) => {
        const a = findAccount(params.account as string) as Account;
        s.plan.addAlias({ alias: body.alias, kind: 'account', target: accountKey(a), org: a.org, ...(body.public !== undefined ? { public: body.public } : {}) });
        return { status: 201, body: accountView(a) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/accounts/{account}/aliases/{alias}', operationId: 'removeAccountAlias', tag: 'accounts', roles: ADMINS,
      summary: 'Remove an alias of the account', response: { status: 204 }, resource: 'account',
      owner: (p) => findAccount(p.account as string)?.org,
      handler: ({ params }) => {
        const a = findAccount(params.account as string) as Account;
        let alias: string;
        try {
          alias = s.plan.normalizeAlias(params.alias as string);
        } catch {
          throw notFound(`${params.alias} is not an alias of ${accountKey(a)}`);
        }
        if (!accountAliases(a).includes(alias)) throw notFound(`${params.alias} is not an alias of ${accountKey(a)}`);
        s.plan.removeAlias(alias);
        return { status: 204 };
      },
    },

    // ---- rooms ---------------------------------------------------------------------------
    {
      method: 'GET', path: '/api/v1/rooms', operationId: 'listRooms', tag: 'rooms', roles: ALL, query: [orgQuery],
      summary: 'Meeting rooms (permanent and booked)', response: { status: 200, schema: listOf('Room') },
      handler: ({ scope, query }) => {
        const org = scope.listOrg(str(query.org));
        return { body: s.rooms.list(org === undefined ? {} : { org }).map(roomView) };
      },
    },
    {
      method: 'POST', path: '/api/v1/rooms', operationId: 'createRoom', tag: 'rooms', roles: ADMINS,
      summary: 'Create a permanent room; the creating organisation is always recorded', body: ref('NewRoom'), response: { status: 201, schema: ref('Room') },
      handler: async ({ scope, body }) => {
        const org = scope.createOrg(body.org);
        requireOrg(org);
        // PINs are hashed on the thread pool first: this process also relays media.
        const [hostPin, guestPin] = await Promise.all([body.hostPin ? HashedPin.of(body.hostPin, 'host PIN') : undefined, body.guestPin ? HashedPin.of(body.guestPin, 'guest PIN') : undefined]);
        const room = s.rooms.create({
          org,
          name: body.name,
          kind: 'permanent',
          ...(body.id ? { id: body.id } : {}),
          ...(hostPin ? { hostPin } : {}),
          ...(guestPin ? { guestPin } : {}),
          ...(body.maxParticipants ? { maxParticipants: body.maxParticipants } : {}),
          lobby: body.lobby ?? false,
          locked: body.locked ?? false,
          ...(body.color ? { branding: { color: body.color } } : {}),
          aliases: body.aliases ?? [],
        });
        return { status: 201, body: roomView(room) };
      },
    },
    {
      method: 'GET', path: '/api/v1/rooms/{id}', operationId: 'getRoom', tag: 'rooms', roles: ALL,
      summary: 'One room', response: { status: 200, schema: ref('Room') }, resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: ({ params }) => ({ body: roomView(s.rooms.require(params.id as string)) }),
    },
    {
      method: 'PATCH', path: '/api/v1/rooms/{id}', operationId: 'updateRoom', tag: 'rooms', roles: ADMINS,
      summary: 'Change a room (name, PINs, limit, lobby, lock, colour); null clears', body: ref('RoomPatch'), response: { status: 200, schema: ref('Room') },
      resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: async ({ params, body }) => {
        const cur = s.rooms.require(params.id as string);
        const patch: RoomPatch = {};
        for (const k of ['name', 'maxParticipants', 'lobby', 'locked'] as const) if (body[k] !== undefined) (patch as Record<string, unknown>)[k] = body[k];
        // New PINs are hashed on the thread pool first (null clears one).
        if (body.hostPin !== undefined) patch.hostPin = body.hostPin === null ? null : await HashedPin.of(body.hostPin, 'host PIN');
        if (body.guestPin !== undefined) patch.guestPin = body.guestPin === null ? null : await HashedPin.of(body.guestPin, 'guest PIN');
        if (body.color !== undefined) {
          const branding: RoomBranding = { ...(cur.branding ?? {}) };
          if (body.color === null) delete branding.color;
          else branding.color = body.color;
          patch.branding = Object.keys(branding).length > 0 ? branding : null;
        }
        return { body: roomView(s.rooms.update(cur.id, patch)) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/rooms/{id}', operationId: 'deleteRoom', tag: 'rooms', roles: ADMINS,
      summary: 'Delete a room and its aliases', response: { status: 204 }, resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: ({ params }) => {
        s.rooms.remove(params.id as string);
        s.logos.remove(params.id as string);
        return { status: 204 };
      },
    },
    {
      method: 'PUT', path: '/api/v1/rooms/{id}/logo', operationId: 'setRoomLogo', tag: 'rooms', roles: ADMINS,
      summary: 'Upload the logo shown on the join page (PNG or SVG, validated and sanitised)', body: ref('Logo'), response: { status: 200, schema: ref('Room') },
      resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: ({ params, body }) => {
        const room = s.rooms.require(params.id as string);
        s.logos.set(room.id, room.org, sanitiseLogo(body.contentType, Buffer.from(body.data, 'base64')));
        return { body: roomView(room) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/rooms/{id}/logo', operationId: 'removeRoomLogo', tag: 'rooms', roles: ADMINS,
      summary: 'Remove the room\'s logo', response: { status: 204 }, resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: ({ params }) => {
        if (!s.logos.remove(params.id as string)) throw notFound(`room ${params.id} has no logo`);
        return { status: 204 };
      },
    },

    {
      method: 'POST', path: '/api/v1/rooms/{id}/aliases', operationId: 'addRoomAlias', tag: 'rooms', roles: ADMINS,
      summary: 'Add an alias (E.164 or URI of the organisation) reaching the room', body: ref('NewAlias'), response: { status: 201, schema: ref('Room') },
      resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: ({ params, body }) => {
        s.rooms.addAlias(params.id as string, body.alias);
        return { status: 201, body: roomView(s.rooms.require(params.id as string)) };
      },
    },
    {
      method: 'DELETE', path: '/api/v1/rooms/{id}/aliases/{alias}', operationId: 'removeRoomAlias', tag: 'rooms', roles: ADMINS,
      summary: 'Remove an alias of the room', response: { status: 204 }, resource: 'room', owner: (p) => s.rooms.get(p.id as string)?.org,
      handler: ({ params }) => {
        s.rooms.removeAlias(params.id as string, params.alias as string);
        return { status: 204 };
      },
    },

    // ---- usage -------------------------------------------------------------------------------
    {
      method: 'GET', path: '/api/v1/usage', operationId: 'getUsage', tag: 'operations', roles: ADMINS,
      summary: 'Ports and licences in use now: the node for operators, the own organisation for others', response: { status: 200, schema: ref('Usage') },
      handler: async ({ scope }) => {
        if (!s.usage) throw new ApiProblem(503, 'unavailable', 'capacity tracking is not enabled on this node');
        const u = await s.usage();
        const orgs = Object.entries(u.orgs).map(([org, o]) => ({ org, ports: o.ports, quota: o.quota }));
        if (!scope.isOperator) {
          const own = scope.principal.org as string;
          const mine = orgs.find((o) => o.org === own);
          return { body: { scope: 'organisation', orgs: [{ org: own, ports: mine?.ports ?? 0, quota: mine?.quota ?? null }] } };
        }
        return { body: { scope: 'node', ports: u.ports, licences: u.licences, media: u.media, byKind: u.byKind, limits: u.limits, orgs } };
      },
    },

    {
      method: 'GET', path: '/api/v1/registrations', operationId: 'listRegistrations', tag: 'operations', roles: ADMINS, query: [orgQuery],
      summary: 'Endpoints registered now, SIP (registrar bindings) and H.323 (gatekeeper) side by side', response: { status: 200, schema: listOf('Registration') },
      handler: ({ scope, query }) => {
        if (!s.registrations) throw new ApiProblem(503, 'unavailable', 'registrations are not available on this node');
        const org = scope.listOrg(str(query.org));
        return { body: s.registrations().filter((r) => org === undefined || r.org === org) };
      },
    },
    {
      method: 'GET', path: '/api/v1/reports/monthly', operationId: 'getMonthlyReport', tag: 'operations', roles: OPERATOR,
      query: [{ name: 'month', schema: { type: 'string', pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$' } }],
      summary: "The node's monthly KPI table (meetings, calls, minutes, SMS, video quality, licence and capacity peaks, uptime) and its charts as SVG",
      response: { status: 200, schema: ref('MonthlyReport') },
      handler: ({ query }) => {
        if (!s.monthlyReport) throw new ApiProblem(503, 'unavailable', 'reports are not available on this node');
        if (typeof query.month !== 'string') throw new ApiProblem(422, 'invalid', 'query parameter month (YYYY-MM) is required');
        const r = s.monthlyReport(query.month);
        return { body: { month: r.month, kpis: r.kpis, charts: r.charts } };
      },
    },

    // ---- bookings and templates ------------------------------------------------------------
    {
      method: 'GET', path: '/api/v1/bookings', operationId: 'listBookings', tag: 'bookings', roles: ALL,
      query: [orgQuery, { name: 'from', schema: { type: 'string', format: 'date-time' } }, { name: 'until', schema: { type: 'string', format: 'date-time' } }],
      summary: 'Booked meetings overlapping [from, until)', response: { status: 200, schema: listOf('Booking') },
      handler: ({ scope, query }) => {
        const org = scope.listOrg(str(query.org));
        return { body: s.bookings.list({ ...(org !== undefined ? { org } : {}), ...(query.from ? { from: String(query.from) } : {}), ...(query.until ? { until: String(query.until) } : {}) }) };
      },
    },
    {
      method: 'POST', path: '/api/v1/bookings', operationId: 'createBooking', tag: 'bookings', roles: ALL,
      summary: 'Book a meeting: creates a one-time room with PINs and a join link, and sends the invitations', body: ref('NewBooking'), response: { status: 201, schema: ref('Booking') },
      handler: async ({ scope, principal, body }) => {
        const org = scope.createOrg(body.org);
        requireOrg(org);
        const { booking, hostPin, guestPin } = await s.bookings.create({ ...body, org, createdBy: principal.actor });
        return { status: 201, body: { ...booking, hostPin, guestPin } };
      },
    },
    {
      method: 'GET', path: '/api/v1/bookings/{id}', operationId: 'getBooking', tag: 'bookings', roles: ALL,
      summary: 'One booking', response: { status: 200, schema: ref('Booking') }, resource: 'booking', owner: (p) => s.bookings.get(p.id as string)?.org,
      handler: ({ params }) => ({ body: s.bookings.get(params.id as string) }),
    },
    {
      method: 'DELETE', path: '/api/v1/bookings/{id}', operationId: 'cancelBooking', tag: 'bookings', roles: ALL,
      summary: 'Cancel a booking; its room and join link stop working at once', response: { status: 200, schema: ref('Booking') }, resource: 'booking',
      owner: (p) => s.bookings.get(p.id as string)?.org,
      handler: ({ params }) => ({ body: s.bookings.cancel(params.id as string) }),
    },
    {
      method: 'GET', path: '/api/v1/bookings/{id}/invitations', operationId: 'listInvitations', tag: 'bookings', roles: ALL,
      summary: 'The booking\'s SMS and e-mail invitations with their delivery status', response: { status: 200, schema: listOf('Invitation') }, resource: 'booking',
      owner: (p) => s.bookings.get(p.id as string)?.org,
      handler: ({ params }) => ({ body: s.outbox.list({ bookingId: params.id as string }) }),
    },
    {
      method: 'GET', path: '/api/v1/outbox', operationId: 'listOutbox', tag: 'bookings', roles: ADMINS, query: [orgQuery],
      summary: 'Recent invitations of the organisation, newest first', response: { status: 200, schema: listOf('Invitation') },
      handler: ({ scope, query }) => {
        const org = scope.listOrg(str(query.org));
        return { body: s.outbox.list(org === undefined ? {} : { org }) };
      },
    },
    {
      method: 'GET', path: '/api/v1/templates', operationId: 'listTemplates', tag: 'bookings', roles: ALL, query: [orgQuery],
      summary: 'Invitation templates ({{name}} {{title}} {{room}} {{start}} {{end}} {{pin}} {{link}} {{org}})', response: { status: 200, schema: listOf('Template') },
      handler: ({ scope, query }) => ({ body: s.bookings.listTemplates(scope.listOrg(str(query.org))) }),
    },
    {
      method: 'POST', path: '/api/v1/templates', operationId: 'createTemplate', tag: 'bookings', roles: ADMINS,
      summary: 'Create an invitation template', body: ref('NewTemplate'), response: { status: 201, schema: ref('Template') },
      handler: ({ scope, body }) => {
        const org = scope.createOrg(body.org);
        requireOrg(org);
        const { org: _ignored, ...input } = body;
        return { status: 201, body: s.bookings.createTemplate(org, input) };
      },
    },
    {
      method: 'GET', path: '/api/v1/templates/{id}', operationId: 'getTemplate', tag: 'bookings', roles: ALL,
      summary: 'One template', response: { status: 200, schema: ref('Template') }, resource: 'template', owner: (p) => s.bookings.getTemplate(p.id as string)?.org,
      handler: ({ params }) => ({ body: s.bookings.getTemplate(params.id as string) }),
    },
    {
      method: 'PATCH', path: '/api/v1/templates/{id}', operationId: 'updateTemplate', tag: 'bookings', roles: ADMINS,
      summary: 'Change a template', body: ref('TemplatePatch'), response: { status: 200, schema: ref('Template') }, resource: 'template',
      owner: (p) => s.bookings.getTemplate(p.id as string)?.org,
      handler: ({ params, body }) => ({ body: s.bookings.updateTemplate(params.id as string, body) }),
    },
    {
      method: 'DELETE', path: '/api/v1/templates/{id}', operationId: 'deleteTemplate', tag: 'bookings', roles: ADMINS,
      summary: 'Delete a template', response: { status: 204 }, resource: 'template', owner: (p) => s.bookings.getTemplate(p.id as string)?.org,
      handler: ({ params }) => {
        s.bookings.deleteTemplate(params.id as string);
        return { status: 204 };
      },
    },

    // ---- operations: service windows, abuse blocks, audit -------------------------------------
    {
      method: 'GET', path: '/api/v1/service-windows', operationId: 'listServiceWindows', tag: 'operations', roles: ALL,
      query: [{ name: 'current', schema: { type: 'boolean' }, description: 'only windows not yet over' }],
      summary: 'Announced maintenance windows of the node (the same for every organisation)', response: { status: 200, schema: listOf('ServiceWindow') },
      handler: ({ query }) => ({ body: s.serviceWindows.list({ current: query.current === true }) }),
    },
    {
      method: 'POST', path: '/api/v1/service-windows', operationId: 'createServiceWindow', tag: 'operations', roles: OPERATOR,
      summary: 'Announce a service window', body: ref('NewServiceWindow'), response: { status: 201, schema: ref('ServiceWindow') },
      handler: ({ principal, body }) => ({ status: 201, body: s.serviceWindows.create({ ...body, createdBy: principal.actor }) }),
    },
    {
      method: 'DELETE', path: '/api/v1/service-windows/{id}', operationId: 'deleteServiceWindow', tag: 'operations', roles: OPERATOR,
      summary: 'Withdraw a service window', response: { status: 204 },
      handler: ({ params }) => {
        s.serviceWindows.remove(params.id as string);
        return { status: 204 };
      },
    },
    {
      method: 'GET', path: '/api/v1/abuse-blocks', operationId: 'listAbuseBlocks', tag: 'operations', roles: OPERATOR,
      summary: 'Blocked source addresses and accounts', response: { status: 200, schema: listOf('AbuseBlock') },
      handler: () => ({ body: s.abuse.list() }),
    },
    {
      method: 'POST', path: '/api/v1/abuse-blocks', operationId: 'createAbuseBlock', tag: 'operations', roles: OPERATOR,
      summary: 'Block a source IP/CIDR or an account: the node refuses its SIP traffic while blocked', body: ref('NewAbuseBlock'), response: { status: 201, schema: ref('AbuseBlock') },
      handler: ({ principal, body }) => ({ status: 201, body: s.abuse.block({ ...body, createdBy: principal.actor }) }),
    },
    {
      method: 'DELETE', path: '/api/v1/abuse-blocks/{id}', operationId: 'deleteAbuseBlock', tag: 'operations', roles: OPERATOR,
      summary: 'Lift a block', response: { status: 204 },
      handler: ({ params }) => {
        s.abuse.unblock(params.id as string);
        return { status: 204 };
      },
    },
    {
      method: 'GET', path: '/api/v1/audit', operationId: 'queryAudit', tag: 'operations', roles: OPERATOR,
      query: [
        orgQuery,
        { name: 'actor', schema: { type: 'string', maxLength: 200 } },
        { name: 'since', schema: { type: 'string', format: 'date-time' } },
        { name: 'until', schema: { type: 'string', format: 'date-time' } },
        { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      ],
      summary: 'The audit log, newest first', response: { status: 200, schema: listOf('AuditEntry') },
      handler: ({ query }) => ({
        body: s.audit.query({
          ...(query.org ? { org: String(query.org) } : {}),
          ...(query.actor ? { actor: String(query.actor) } : {}),
          ...(query.since ? { since: String(query.since) } : {}),
          ...(query.until ? { until: String(query.until) } : {}),
          ...(query.limit ? { limit: Number(query.limit) } : {}),
        }),
      }),
    },
  ];
}
