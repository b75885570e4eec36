/**
 * SIP accounts: who may register, and the digest HA1s to check them with.
 * Requires `registrarMigrations` to have been applied to the Db.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database.js';
import { computeHa1, type DigestAlgorithm } from './digest.js';
import { AccountExistsError, AccountNotFoundError, InvalidAccountError } from './errors.js';

export interface Account {
  id: number;
  /** Organisation name as the dial plan knows it. */
  org: string;
  username: string;
  /** Always lower case (hostnames are case-insensitive, the digest realm string is not). */
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
  displayName?: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface NewAccount {
  org: string;
  username: string;
  password: string;
  realm: string;
  displayName?: string;
}

interface Row {
  id: number;
  org: string;
  username: string;
  realm: string;
  ha1_md5: string;
  ha1_sha256: string;
  display_name: string | null;
  created_at: string;
}

// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ). Escapes are refused so each
// user has exactly one spelling (the digest username is compared as a plain string).
const USER_PART = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,64}$/;
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// CR/LF in a value that ends up in a From or Contact display name would allow header injection.
const CONTROL = /[\u0000-\u001f\u007f]/;

function validUsername(username: string): string {
  if (typeof username !== 'string' || !USER_PART.test(username)) {
    const why = typeof username === 'string' && username.length > 64 ? ' (at most 64 characters)' : '';
    throw new InvalidAccountError('username', `username ${JSON.stringify(username)} is not a valid SIP user part${why}`);
  }
  return username;
}

/**
 * The realm is the node's SIP domain, a hostname. It is lower-cased here, so the challenge must
 * use the lower-cased domain too or the HA1 (computed over the realm string) will not match.
 */
export function normaliseRealm(realm: string): string {
  const r = typeof realm === 'string' ? realm.toLowerCase() : '';
  if (r.length === 0 || r.length > 253 || !r.split('.').every((l) => HOST_LABEL.test(l))) {
    throw new InvalidAccountError('realm', `realm ${JSON.stringify(realm)} is not a valid hostname`);
  }
  return r;
}

function validPassword(password: string): string {
  const length = typeof password === 'string' ? [...password].length : 0;
  if (length < 1 || length > 128) {
    throw new InvalidAccountError('password', `password must be 1 to 128 characters, got ${length}`);
  }
  return password;
}

function validOrg(org: string): string {
  if (typeof org !== 'string' || org.trim() === '' || org.length > 200 || CONTROL.test(org)) {
    throw new InvalidAccountError('org', `organisation ${JSON.stringify(org)} must be 1 to 200 printable characters`);
  }
  return org;
}

function validDisplayName(name: string | undefined): string | null {
  if (name === undefined) return null;
  if (typeof name !== 'string' || name.length > 128 || CONTROL.test(name)) {
    throw new InvalidAccountError('displayName', `display name ${JSON.stringify(name)} must be at most 128 printable characters`);
  }
  return name;
}

function toAccount(r: Row): Account {
  const a: Account = {
    id: r.id,
    org: r.org,
    username: r.username,
    realm: r.realm,
    ha1Md5: r.ha1_md5,
    ha1Sha256: r.ha1_sha256,
    createdAt: r.created_at,
  };
  if (r.display_name !== null) a.displayName = r.display_name;
  return a;
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class AccountStore {
  private readonly stmt: {
    insert: Statement<[string, string, string, string, string, string | null, string]>;
    get: Statement<[string, string], Row>;
    listAll: Statement<[], Row>;
    listOrg: Statement<[string], Row>;
    remove: Statement<[string, string]>;
    setHa1: Statement<[string, string, string, string]>;
    ha1: Statement<[string, string], { ha1_md5: string; ha1_sha256: string }>;
  };

  constructor(db: Db) {
    // Prepared once: ha1() runs on every authenticated request.
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO registrar_accounts (org, username, realm, ha1_md5, ha1_sha256, display_name, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: db.prepare('SELECT * FROM registrar_accounts WHERE username = ? AND realm = ?'),
      listAll: db.prepare('SELECT * FROM registrar_accounts ORDER BY realm, username'),
      listOrg: db.prepare('SELECT * FROM registrar_accounts WHERE org = ? ORDER BY realm, username'),
      remove: db.prepare('DELETE FROM registrar_accounts WHERE username = ? AND realm = ?'),
      setHa1: db.prepare('UPDATE registrar_accounts SET ha1_md5 = ?, ha1_sha256 = ? WHERE username = ? AND realm = ?'),
      ha1: db.prepare('SELECT ha1_md5, ha1_sha256 FROM registrar_accounts WHERE username = ? AND realm = ?'),
    };
  }

  add(input: NewAccount): Account {
    const org = validOrg(input.org);
    const username = validUsername(input.username);
    const realm = normaliseRealm(input.realm);
    const password = validPassword(input.password);
    const displayName = validDisplayName(input.displayName);
    const createdAt = new Date().toISOString();
    const ha1Md5 = computeHa1('MD5', username, realm, password);
    const ha1Sha256 = computeHa1('SHA-256', username, realm, password);
    let id: number;
    try {
      id = Number(this.stmt.insert.run(org, username, realm, ha1Md5, ha1Sha256, displayName, createdAt).lastInsertRowid);
    } catch (err) {
      if (isUniqueViolation(err)) throw new AccountExistsError(username, realm);
      throw err;
    }
    return toAccount({ id, org, username, realm, ha1_md5: ha1Md5, ha1_sha256: ha1Sha256, display_name: displayName, created_at: createdAt });
  }

  /** Undefined when there is no such account (or the realm is not a valid hostname). */
  get(username: string, realm: string): Account | undefined {
    const row = this.stmt.get.get(username, realm.toLowerCase());
    return row && toAccount(row);
  }

  list(filter: { org?: string } = {}): Account[] {
    const rows = filter.org === undefined ? this.stmt.listAll.all() : this.stmt.listOrg.all(filter.org);
    return rows.map(toAccount);
  }

  /**
   * Deletes the account. Its registrations are the BindingStore's: the caller should also
   * `removeAll(aorFor(username, realm))` so the device stops being reachable at once.
   */
  remove(username: string, realm: string): void {
    if (this.stmt.remove.run(username, realm.toLowerCase()).changes === 0) {
      throw new AccountNotFoundError(username, realm);
    }
  }

  setPassword(username: string, realm: string, password: string): void {
    validPassword(password);
    const r = realm.toLowerCase();
    const changes = this.stmt.setHa1.run(
      computeHa1('MD5', username, r, password),
      computeHa1('SHA-256', username, r, password),
      username,
      r,
    ).changes;
    if (changes === 0) throw new AccountNotFoundError(username, realm);
  }

  /** The authenticator's `lookupHa1`: `(u, r, a) => accounts.ha1(u, r, a)`. */
  ha1(username: string, realm: string, algorithm: DigestAlgorithm): string | undefined {
    const row = this.stmt.ha1.get(username, realm.toLowerCase());
    if (!row) return undefined;
    return algorithm === 'MD5' ? row.ha1_md5 : row.ha1_sha256;
  }
}
