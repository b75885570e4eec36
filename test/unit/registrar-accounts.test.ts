import { beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';
import { AccountStore } from '../../src/registrar/accounts.js';
import { computeHa1, DigestAuthenticator, computeDigestResponse } from '../../src/registrar/digest.js';
import { AccountExistsError, AccountNotFoundError, InvalidAccountError } from '../../src/registrar/errors.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';

let db: Db;
let accounts: AccountStore;

beforeEach(() => {
  db = openDatabase(':memory:');
  migrate(db, registrarMigrations);
  accounts = new AccountStore(db);
});

const alice = { org: 'Region Nord', username: 'alice', password: 'Circle of Life', realm: 'knude.local' };

describe('AccountStore', () => {
  it('adds and gets an account with HA1s, never the password', () => {
    const a = accounts.add({ ...alice, displayName: 'Alice Ås' });
    expect(a).toMatchObject({
      org: 'Region Nord',
      username: 'alice',
      realm: 'knude.local',
      displayName: 'Alice Ås',
      ha1Md5: computeHa1('MD5', 'alice', 'knude.local', 'Circle of Life'),
      ha1Sha256: computeHa1('SHA-256', 'alice', 'knude.local', 'Circle of Life'),
    });
    expect(a.id).toBeGreaterThan(0);
    expect(new Date(a.createdAt).toString()).not.toBe('Invalid Date');
    expect(accounts.get('alice', 'knude.local')).toEqual(a);
    expect(accounts.get('bob', 'knude.local')).toBeUndefined();
    const dump = JSON.stringify(db.prepare('SELECT * FROM registrar_accounts').all());
    expect(dump).not.toContain('Circle of Life');
  });

  it('omits displayName when not given', () => {
    expect(accounts.add(alice)).not.toHaveProperty('displayName');
  });

  it('usernames are unique per realm', () => {
    accounts.add(alice);
    expect(() => accounts.add(alice)).toThrow(AccountExistsError);
    expect(() => accounts.add({ ...alice, realm: 'KNUDE.local' })).toThrow('account "alice" already exists in realm "knude.local"');
    expect(accounts.add({ ...alice, realm: 'other.example' }).realm).toBe('other.example');
    // The user part is case-sensitive in SIP.
    expect(accounts.add({ ...alice, username: 'Alice' }).username).toBe('Alice');
  });

  it('lower-cases the realm and looks it up case-insensitively', () => {
    accounts.add({ ...alice, realm: 'Knude.Local' });
    expect(accounts.get('alice', 'KNUDE.LOCAL')?.realm).toBe('knude.local');
    expect(accounts.ha1('alice', 'knude.local', 'MD5')).toBe(computeHa1('MD5', 'alice', 'knude.local', 'Circle of Life'));
  });

  it('lists all or by organisation, ordered', () => {
    accounts.add({ ...alice, username: 'zed' });
    accounts.add(alice);
    accounts.add({ ...alice, org: 'Region Syd', username: 'bob' });
    expect(accounts.list().map((a) => a.username)).toEqual(['alice', 'bob', 'zed']);
    expect(accounts.list({ org: 'Region Nord' }).map((a) => a.username)).toEqual(['alice', 'zed']);
    expect(accounts.list({ org: 'Nobody' })).toEqual([]);
  });

  it('removes, and refuses to remove what is not there', () => {
    accounts.add(alice);
    accounts.remove('alice', 'knude.local');
    expect(accounts.get('alice', 'knude.local')).toBeUndefined();
    expect(() => accounts.remove('alice', 'knude.local')).toThrow(AccountNotFoundError);
    expect(() => accounts.remove('alice', 'knude.local')).toThrow('no account "alice" in realm "knude.local"');
  });

  it('sets a new password', () => {
    accounts.add(alice);
    accounts.setPassword('alice', 'knude.local', 'new one');
    expect(accounts.ha1('alice', 'knude.local', 'SHA-256')).toBe(computeHa1('SHA-256', 'alice', 'knude.local', 'new one'));
    expect(accounts.ha1('alice', 'knude.local', 'MD5')).toBe(computeHa1('MD5', 'alice', 'knude.local', 'new one'));
    expect(() => accounts.setPassword('bob', 'knude.local', 'x')).toThrow(AccountNotFoundError);
    expect(() => accounts.setPassword('alice', 'knude.local', '')).toThrow(InvalidAccountError);
  });

  it('ha1 is undefined for unknown users', () => {
    expect(accounts.ha1('ghost', 'knude.local', 'MD5')).toBeUndefined();
  });

  it.each([
    [{ username: 'a b' }, 'username', 'username "a b" is not a valid SIP user part'],
    [{ username: '' }, 'username', /not a valid SIP user part/],
    [{ username: 'al%41ce' }, 'username', /not a valid SIP user part/],
    [{ username: 'a@b' }, 'username', /not a valid SIP user part/],
    [{ username: 'x'.repeat(65) }, 'username', /at most 64/],
    [{ realm: 'not a host' }, 'realm', 'realm "not a host" is not a valid hostname'],
    [{ realm: '-bad.example' }, 'realm', /not a valid hostname/],
    [{ realm: 'a..b' }, 'realm', /not a valid hostname/],
    [{ realm: '' }, 'realm', /not a valid hostname/],
    [{ password: '' }, 'password', 'password must be 1 to 128 characters, got 0'],
    [{ password: 'p'.repeat(129) }, 'password', /got 129/],
    [{ org: '  ' }, 'org', /organisation/],
    [{ displayName: 'Evil\r\nVia: x' }, 'displayName', /display name/],
  ])('refuses %j', (patch, field, message) => {
    try {
      accounts.add({ ...alice, ...patch });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidAccountError);
      expect((err as InvalidAccountError).field).toBe(field);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('accepts RFC 3261 user characters and 128-character passwords', () => {
    expect(accounts.add({ ...alice, username: "+4712345678;x=y&a$b,c?d/e-_.!~*'()" }).username).toContain('+47');
    expect(accounts.add({ ...alice, username: 'long', password: 'p'.repeat(128) }).username).toBe('long');
    expect(accounts.add({ ...alice, username: 'emoji', password: '🔑'.repeat(128) }).username).toBe('emoji');
    expect(accounts.add({ ...alice, username: 'v4', realm: '10.0.0.1' }).realm).toBe('10.0.0.1');
  });

  it('feeds the digest authenticator', () => {
    accounts.add(alice);
    const auth = new DigestAuthenticator({ secret: 'a-long-enough-test-secret' });
    const nonce = auth.issueNonce('knude.local');
    const response = computeDigestResponse({
      algorithm: 'SHA-256',
      ha1: computeHa1('SHA-256', 'alice', 'knude.local', 'Circle of Life'),
      nonce,
      method: 'REGISTER',
      uri: 'sip:knude.local',
      qop: 'auth',
      nc: '00000001',
      cnonce: 'abc',
    });
    const header = `Digest username="alice", realm="knude.local", nonce="${nonce}", uri="sip:knude.local", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="abc"`;
    const result = auth.verify({
      method: 'REGISTER',
      uri: 'sip:knude.local',
      header,
      realm: 'knude.local',
      lookupHa1: (u, r, a) => accounts.ha1(u, r, a),
    });
    expect(result).toMatchObject({ ok: true, username: 'alice' });
  });
});
