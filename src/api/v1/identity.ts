/**
 * Who is calling: API users (people of the admin pages, scripts), their bearer tokens, and
 * client certificates mapped to an organisation and a role.
 *
 * Certificates are mapped by the SHA-256 fingerprint of the whole DER certificate, not by a
 * subject attribute: an OCES3 subject carries the organisation's CVR (organizationIdentifier
 * "NTRDK-<CVR>"), but every system certificate a region holds shares it, and a role is a
 * decision about one integration, not about everyone the CA certified for that organisation.
 * The fingerprint names exactly the certificate the operator registered; renewing a
 * certificate means registering the new one (the CLI prints its fingerprint).
 */
import { createHash, randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../store/database.js';
import { ApiProblem, conflict, notFound } from './errors.js';

export type Role = 'operator' | 'org-admin' | 'booker';
export const ROLES: readonly Role[] = ['operator', 'org-admin', 'booker'];

/** The authenticated caller. `org` null only for operators, who act for every organisation. */
export interface Principal {
  /** 'cert:<fingerprint prefix>' or 'user:<username>': what the audit log names. */
  actor: string;
  /** Rate-limit key: one bucket per certificate / per token. */
  clientKey: string;
  org: string | null;
  role: Role;
  via: 'certificate' | 'token';
  userId?: string;
  tokenId?: string;
}

export interface ApiUser {
  id: string;
  org: string | null;
  username: string;
  displayName: string;
  email?: string;
  role: Role;
  hasPassword: boolean;
  createdAt: string;
}

export interface TokenInfo {
  id: string;
  userId: string;
  label: string;
  expiresAt: string;
  createdAt: string;
}

export interface ClientCertMapping {
  fingerprint: string;
  org: string | null;
  role: Role;
  label: string;
  subject?: string;
  createdAt: string;
}

interface UserRow {
  id: string;
  org: string | null;
  username: string;
  display_name: string;
  email: string | null;
  role: Role;
  password_hash: string | null;
  created_at: string;
}

const toUser = (r: UserRow): ApiUser => ({
  id: r.id,
  org: r.org,
  username: r.username,
  displayName: r.display_name,
  ...(r.email ? { email: r.email } : {}),
  role: r.role,
  hasPassword: r.password_hash !== null,
  createdAt: r.created_at,
});

const TOKEN_PREFIX = 'knude_';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** 'AB:CD:..', 'abcd..' or 'sha256:abcd..' → 64 lowercase hex digits, or undefined. */
export function normaliseFingerprint(input: string): string | undefined {
  const hex = input.replace(/^sha-?256:/i, '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, 32).toString('base64')}`;
}

function passwordMatches(stored: string, password: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  return timingSafeEqual(scryptSync(password, Buffer.from(salt, 'base64'), expected.length), expected);
}

// A fixed hash to compare against when the user does not exist, so a login for an unknown
// name takes as long as one with a wrong password.
const DUMMY_HASH = hashPassword(randomBytes(12).toString('hex'));

export class IdentityStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  // ---- users ---------------------------------------------------------------------------

  createUser(input: { org: string | null; username: string; displayName: string; email?: string; role: Role; password?: string }): ApiUser {
    if (input.role !== 'operator' && !input.org) throw new ApiProblem(422, 'invalid', `a ${input.role} belongs to an organisation (org)`);
    if (this.db.prepare('SELECT 1 FROM api_users WHERE username = ?').get(input.username)) throw conflict(`user name "${input.username}" is taken`);
    const row: UserRow = {
      id: randomUUID(),
      org: input.org,
      username: input.username,
      display_name: input.displayName,
      email: input.email ?? null,
      role: input.role,
      password_hash: input.password ? hashPassword(input.password) : null,
      created_at: this.now().toISOString(),
    };
    this.db
      .prepare('INSERT INTO api_users (id, org, username, display_name, email, role, password_hash, created_at) VALUES (@id, @org, @username, @display_name, @email, @role, @password_hash, @created_at)')
      .run(row);
    return toUser(row);
  }

  getUser(id: string): ApiUser | undefined {
    const r = this.db.prepare('SELECT * FROM api_users WHERE id = ?').get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  listUsers(org?: string): ApiUser[] {
    const rows = (org === undefined ? this.db.prepare('SELECT * FROM api_users ORDER BY username').all() : this.db.prepare('SELECT * FROM api_users WHERE org = ? ORDER BY username').all(org)) as UserRow[];
    return rows.map(toUser);
  }

  updateUser(id: string, patch: { displayName?: string; email?: string | null; role?: Role; password?: string }): ApiUser {
    const cur = this.db.prepare('SELECT * FROM api_users WHERE id = ?').get(id) as UserRow | undefined;
    if (!cur) throw notFound(`no user ${id}`);
    const next: UserRow = {
      ...cur,
      display_name: patch.displayName ?? cur.display_name,
      email: patch.email === undefined ? cur.email : patch.email,
      role: patch.role ?? cur.role,
      password_hash: patch.password ? hashPassword(patch.password) : cur.password_hash,
    };
    if (next.role !== 'operator' && !next.org) throw new ApiProblem(422, 'invalid', 'a user without an organisation can only be an operator');
    this.db.prepare('UPDATE api_users SET display_name = @display_name, email = @email, role = @role, password_hash = @password_hash WHERE id = @id').run(next);
    return toUser(next);
  }

  deleteUser(id: string): void {
    if (this.db.prepare('DELETE FROM api_users WHERE id = ?').run(id).changes === 0) throw notFound(`no user ${id}`);
  }

  /** The user when the password matches, else undefined (same work either way). */
  checkPassword(username: string, password: string): ApiUser | undefined {
    const r = this.db.prepare('SELECT * FROM api_users WHERE username = ?').get(username) as UserRow | undefined;
    const ok = passwordMatches(r?.password_hash ?? DUMMY_HASH, password);
    return r && r.password_hash && ok ? toUser(r) : undefined;
  }

  // ---- tokens --------------------------------------------------------------------------

  /** A new token; the secret is returned once and only its SHA-256 is stored. */
  issueToken(userId: string, label: string, lifetimeSeconds: number): TokenInfo & { token: string } {
    if (!this.getUser(userId)) throw notFound(`no user ${userId}`);
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const info: TokenInfo = { id: randomUUID(), userId, label, expiresAt: new Date(now.getTime() + lifetimeSeconds * 1000).toISOString(), createdAt: now.toISOString() };
    this.db
      .prepare('INSERT INTO api_tokens (id, user_id, hash, label, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(info.id, userId, sha256Hex(token), label, info.expiresAt, info.createdAt);
    return { ...info, token };
  }

  listTokens(filter: { userIds?: string[] } = {}): TokenInfo[] {
    const rows = this.db.prepare('SELECT id, user_id, label, expires_at, created_at FROM api_tokens ORDER BY created_at').all() as Array<{ id: string; user_id: string; label: string; expires_at: string; created_at: string }>;
    return rows
      .filter((r) => !filter.userIds || filter.userIds.includes(r.user_id))
      .map((r) => ({ id: r.id, userId: r.user_id, label: r.label, expiresAt: r.expires_at, createdAt: r.created_at }));
  }

  getToken(id: string): TokenInfo | undefined {
    return this.listTokens().find((t) => t.id === id);
  }

  revokeToken(id: string): void {
    if (this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes === 0) throw notFound(`no token ${id}`);
  }

  /** The principal a bearer token stands for, or undefined (unknown or expired). */
  principalForToken(token: string): Principal | undefined {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const r = this.db
      .prepare('SELECT t.id AS token_id, t.expires_at, u.* FROM api_tokens t JOIN api_users u ON u.id = t.user_id WHERE t.hash = ?')
      .get(sha256Hex(token)) as (UserRow & { token_id: string; expires_at: string }) | undefined;
    if (!r || r.expires_at <= this.now().toISOString()) return undefined;
    return { actor: `user:${r.username}`, clientKey: `token:${r.token_id}`, org: r.org, role: r.role, via: 'token', userId: r.id, tokenId: r.token_id };
  }

  // ---- client certificates -------------------------------------------------------------

  mapCertificate(input: { fingerprint: string; org: string | null; role: Role; label: string; subject?: string }): ClientCertMapping {
    const fingerprint = normaliseFingerprint(input.fingerprint);
    if (!fingerprint) throw new ApiProblem(422, 'invalid', 'fingerprint must be the SHA-256 of the certificate: 64 hex digits (colons allowed)');
    if (input.role !== 'operator' && !input.org) throw new ApiProblem(422, 'invalid', `a ${input.role} certificate belongs to an organisation (org)`);
    if (this.getCertificate(fingerprint)) throw conflict(`certificate ${fingerprint.slice(0, 16)}… is already mapped`);
    const m: ClientCertMapping = { fingerprint, org: input.org, role: input.role, label: input.label, ...(input.subject ? { subject: input.subject } : {}), createdAt: this.now().toISOString() };
    this.db.prepare('INSERT INTO api_client_certs (fingerprint, org, role, label, subject, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(m.fingerprint, m.org, m.role, m.label, m.subject ?? null, m.createdAt);
    return m;
  }

  getCertificate(fingerprint: string): ClientCertMapping | undefined {
    const fp = normaliseFingerprint(fingerprint);
    const r = fp && (this.db.prepare('SELECT * FROM api_client_certs WHERE fingerprint = ?').get(fp) as
      | { fingerprint: string; org: string | null; role: Role; label: string; subject: string | null; created_at: string }
      | undefined);
    return r ? { fingerprint: r.fingerprint, org: r.org, role: r.role, label: r.label, ...(r.subject ? { subject: r.subject } : {}), createdAt: r.created_at } : undefined;
  }

  listCertificates(org?: string): ClientCertMapping[] {
    const rows = this.db.prepare('SELECT fingerprint FROM api_client_certs ORDER BY created_at').pluck().all() as string[];
    return rows.map((fp) => this.getCertificate(fp) as ClientCertMapping).filter((m) => org === undefined || m.org === org);
  }

  unmapCertificate(fingerprint: string): void {
    const fp = normaliseFingerprint(fingerprint) ?? '';
    if (this.db.prepare('DELETE FROM api_client_certs WHERE fingerprint = ?').run(fp).changes === 0) throw notFound(`no mapped certificate ${fingerprint}`);
  }

  principalForCertificate(fingerprint: string): Principal | undefined {
    const m = this.getCertificate(fingerprint);
    if (!m) return undefined;
    return { actor: `cert:${m.fingerprint.slice(0, 16)}`, clientKey: `cert:${m.fingerprint}`, org: m.org, role: m.role, via: 'certificate' };
  }
}
