import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  computeDigestResponse,
  computeHa1,
  DigestAuthenticator,
  parseDigestCredentials,
  type DigestAlgorithm,
  type Ha1Lookup,
} from '../../src/registrar/digest.js';
import { DigestConfigError } from '../../src/registrar/errors.js';

const SECRET = 'test-secret-0123456789abcdef';
const REALM = 'knude.local';
const URI = 'sip:knude.local';

function params(header: string): Map<string, string> {
  const p = parseDigestCredentials(header);
  if (!p.ok) throw new Error(p.detail);
  return p.params;
}

/** A minimal UAC: answers a challenge header the way a phone would. */
function answer(
  challenge: string,
  o: {
    username?: string;
    password?: string;
    method?: string;
    uri?: string;
    nc?: number;
    cnonce?: string;
    qop?: boolean;
    algorithm?: string;
    realm?: string;
    nonce?: string;
  } = {},
): string {
  const c = params(challenge);
  const username = o.username ?? 'alice';
  const realm = o.realm ?? c.get('realm')!;
  const nonce = o.nonce ?? c.get('nonce')!;
  const algToken = o.algorithm ?? c.get('algorithm') ?? 'MD5';
  const algorithm: DigestAlgorithm = algToken.toUpperCase().startsWith('SHA-256') ? 'SHA-256' : 'MD5';
  const sess = algToken.toLowerCase().endsWith('-sess');
  const uri = o.uri ?? URI;
  const cnonce = o.cnonce ?? 'c0ffee42';
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const qop = o.qop ?? true;
  const response = computeDigestResponse({
    algorithm,
    sess,
    ha1: computeHa1(algorithm, username, realm, o.password ?? 'secret'),
    nonce,
    method: o.method ?? 'REGISTER',
    uri,
    qop: qop ? 'auth' : undefined,
    nc,
    cnonce,
  });
  return (
    `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", ` +
    `response="${response}", algorithm=${algToken}` +
    (qop || sess ? `, cnonce="${cnonce}"` : '') +
    (qop ? `, qop=auth, nc=${nc}` : '')
  );
}

const users: Ha1Lookup = (username, realm, algorithm) =>
  username === 'alice' && realm === REALM ? computeHa1(algorithm, 'alice', REALM, 'secret') : undefined;

function setup(options: { lifetime?: number; algorithms?: DigestAlgorithm[]; capacity?: number; allowNoQop?: boolean } = {}) {
  const clock = { t: 1_700_000_000_000 };
  const auth = new DigestAuthenticator({
    secret: SECRET,
    nonceLifetimeSeconds: options.lifetime,
    algorithms: options.algorithms,
    nonceCountCapacity: options.capacity,
    allowNoQop: options.allowNoQop,
    now: () => clock.t,
  });
  const verify = (header: string | undefined, extra: { method?: string; uri?: string; realm?: string } = {}) =>
    auth.verify({ method: extra.method ?? 'REGISTER', uri: extra.uri ?? URI, header, realm: extra.realm ?? REALM, lookupHa1: users });
  return { clock, auth, verify };
}

describe('digest computation (RFC test vectors)', () => {
  it('RFC 2617 §3.5: Mufasa / Circle Of Life, MD5, qop=auth', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    expect(ha1).toBe('939e7578ed9e3c518a452acee763bce9');
    const response = computeDigestResponse({
      algorithm: 'MD5',
      ha1,
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('RFC 7616 §3.9.1: SHA-256 and MD5 responses', () => {
    const common = {
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      method: 'GET',
      uri: '/dir/index.html',
      qop: 'auth' as const,
      nc: '00000001',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    };
    const sha = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    const md5 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeDigestResponse({ algorithm: 'SHA-256', ha1: sha, ...common })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
    expect(computeDigestResponse({ algorithm: 'MD5', ha1: md5, ...common })).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('RFC 2069 (no qop) response is H(HA1:nonce:HA2)', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const r = computeDigestResponse({ algorithm: 'MD5', ha1, nonce: 'n', method: 'GET', uri: '/x' });
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    expect(r).toBe(md5(`${ha1}:n:${md5('GET:/x')}`));
  });
});

describe('parseDigestCredentials', () => {
  it('parses the RFC 2617 §3.5 header, folded over lines', () => {
    const p = params(`Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`);
    expect(p.get('username')).toBe('Mufasa');
    expect(p.get('qop')).toBe('auth');
    expect(p.get('nc')).toBe('00000001');
    expect(p.get('opaque')).toBe('5ccc069c403ebaf9f0171e9517f40e41');
  });

  it('unescapes quoted-pairs, lower-cases names, tolerates empty list elements', () => {
    const p = params('dIgEsT  USERNAME="a\\"b\\\\c" ,, Realm = "r, with comma" ,nonce=tok');
    expect(p.get('username')).toBe('a"b\\c');
    expect(p.get('realm')).toBe('r, with comma');
    expect(p.get('nonce')).toBe('tok');
  });

  it.each([
    ['Basic QWxhZGRpbjpvcGVu', /not Digest/],
    ['Digest', /no parameters/],
    ['Digest username="abc', /unterminated/],
    ['Digest username="a", username="b"', /twice/],
    ['Digest username', /no value/],
    ['Digest username=', /empty value/],
    ['Digest username="a" realm="b"', /expected ","/],
    ['Digest =x', /unexpected character/],
  ])('refuses %j', (raw, detail) => {
    const p = parseDigestCredentials(raw);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.detail).toMatch(detail);
  });
});

describe('DigestAuthenticator', () => {
  it('challenges SHA-256 first by default, then MD5, sharing one nonce', () => {
    const { auth } = setup();
    const [sha, md5, ...rest] = auth.challenge({ realm: REALM });
    expect(rest).toHaveLength(0);
    expect(sha).toMatch(/^Digest realm="knude.local", nonce="[A-Za-z0-9_-]{40}", algorithm=SHA-256, qop="auth"$/);
    expect(md5).toMatch(/algorithm=MD5/);
    expect(params(sha!).get('nonce')).toBe(params(md5!).get('nonce'));
    // An explicit order is the offer order (MD5 first for endpoints that take the first challenge).
    expect(auth.challenge({ realm: REALM, algorithms: ['MD5', 'SHA-256'] })[0]).toMatch(/algorithm=MD5/);
    expect(auth.challenge({ realm: REALM, algorithms: ['MD5'] })).toHaveLength(1);
    expect(auth.challenge({ realm: REALM, stale: true })[0]).toMatch(/, stale=true$/);
  });

  it('nonces are unique even within the same millisecond', () => {
    const { auth } = setup();
    expect(auth.issueNonce(REALM)).not.toBe(auth.issueNonce(REALM));
  });

  it.each(['SHA-256', 'MD5', 'SHA-256-sess', 'MD5-sess', 'md5'])('accepts a correct %s answer', (algorithm) => {
    const { auth, verify } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    const r = verify(answer(challenge!, { algorithm }));
    expect(r).toEqual({
      ok: true,
      username: 'alice',
      realm: REALM,
      algorithm: algorithm.toUpperCase().startsWith('SHA') ? 'SHA-256' : 'MD5',
    });
  });

  it('accepts RFC 2069 clients without qop, unless disabled', () => {
    const a = setup();
    expect(a.verify(answer(a.auth.challenge({ realm: REALM })[1]!, { qop: false })).ok).toBe(true);
    const b = setup({ allowNoQop: false });
    expect(b.verify(answer(b.auth.challenge({ realm: REALM })[1]!, { qop: false }))).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });

  it('accepts a nonce issued by another node sharing the secret', () => {
    const a = setup();
    const b = setup();
    expect(b.verify(answer(a.auth.challenge({ realm: REALM })[0]!)).ok).toBe(true);
  });

  it('reports an expired nonce as stale when the password is right, wrong-password otherwise', () => {
    const { auth, verify, clock } = setup({ lifetime: 60 });
    const [challenge] = auth.challenge({ realm: REALM });
    clock.t += 59_000;
    expect(verify(answer(challenge!, { nc: 1 })).ok).toBe(true);
    clock.t += 2_000;
    expect(verify(answer(challenge!, { nc: 2 }))).toMatchObject({ ok: false, reason: 'stale', detail: expect.stringMatching(/expired/) });
    expect(verify(answer(challenge!, { nc: 3, password: 'guess' }))).toMatchObject({ ok: false, reason: 'wrong-password' });
  });

  it('defaults the nonce lifetime to 300 s', () => {
    const { auth, verify, clock } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    clock.t += 300_000;
    expect(verify(answer(challenge!, { nc: 1 })).ok).toBe(true);
    clock.t += 1;
    expect(verify(answer(challenge!, { nc: 2 }))).toMatchObject({ reason: 'stale' });
  });

  it('refuses nonces from the future beyond clock skew', () => {
    const { auth, verify, clock } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    clock.t -= 120_000;
    expect(verify(answer(challenge!))).toMatchObject({ reason: 'stale', detail: expect.stringMatching(/future/) });
  });

  it('never accepts a tampered nonce', () => {
    const { auth, verify } = setup();
    const nonce = params(auth.challenge({ realm: REALM })[0]!).get('nonce')!;
    // Move the timestamp forward: the HMAC no longer matches.
    const buf = Buffer.from(nonce, 'base64url');
    buf[5] = buf[5]! ^ 0xff;
    const tampered = buf.toString('base64url');
    const challenge = `Digest realm="${REALM}", nonce="${tampered}", algorithm=SHA-256, qop="auth"`;
    // The UA knows the password, so it is told to retry with a fresh nonce, never let in.
    expect(verify(answer(challenge))).toMatchObject({ ok: false, reason: 'stale', detail: expect.stringMatching(/signature/) });
    expect(verify(answer(challenge, { password: 'x' }))).toMatchObject({ ok: false, reason: 'wrong-password' });
    const junk = `Digest realm="${REALM}", nonce="not-ours!", algorithm=SHA-256, qop="auth"`;
    expect(verify(answer(junk))).toMatchObject({ ok: false, reason: 'stale', detail: expect.stringMatching(/not issued/) });
  });

  it('refuses a nonce signed with another secret or for another realm', () => {
    const other = new DigestAuthenticator({ secret: 'another-secret-0123456789' });
    const { auth, verify } = setup();
    expect(verify(answer(other.challenge({ realm: REALM })[0]!))).toMatchObject({ reason: 'stale' });
    const nonce = params(auth.challenge({ realm: 'other.realm' })[0]!).get('nonce')!;
    const challenge = `Digest realm="${REALM}", nonce="${nonce}", algorithm=SHA-256, qop="auth"`;
    expect(verify(answer(challenge))).toMatchObject({ reason: 'stale' });
  });

  it('the RFC 2617 example header gets stale for its foreign nonce with the right password', () => {
    const auth = new DigestAuthenticator({ secret: SECRET });
    const header = `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
      uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b",
      response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`;
    const lookup = (password: string): Ha1Lookup => (u, r, a) => computeHa1(a, u, r, password);
    const req = { method: 'GET', uri: '/dir/index.html', header };
    expect(auth.verify({ ...req, lookupHa1: lookup('Circle Of Life') })).toMatchObject({ ok: false, reason: 'stale' });
    expect(auth.verify({ ...req, lookupHa1: lookup('circle of life') })).toMatchObject({ ok: false, reason: 'wrong-password' });
  });

  it('refuses a repeated or lower nonce-count', () => {
    const { auth, verify } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    expect(verify(answer(challenge!, { nc: 1 })).ok).toBe(true);
    expect(verify(answer(challenge!, { nc: 1 }))).toMatchObject({ ok: false, reason: 'replay' });
    expect(verify(answer(challenge!, { nc: 3 })).ok).toBe(true);
    expect(verify(answer(challenge!, { nc: 2 }))).toMatchObject({ ok: false, reason: 'replay' });
    expect(verify(answer(challenge!, { nc: 4 })).ok).toBe(true);
  });

  it('a forged request with a high nc does not burn the legitimate counter', () => {
    const { auth, verify } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    expect(verify(answer(challenge!, { nc: 99, password: 'guess' }))).toMatchObject({ reason: 'wrong-password' });
    expect(verify(answer(challenge!, { nc: 1 })).ok).toBe(true);
  });

  it('keeps nonce counts in a bounded LRU (an evicted nonce is forgotten)', () => {
    const { auth, verify } = setup({ capacity: 2 });
    const [a, b, c] = [0, 1, 2].map(() => auth.challenge({ realm: REALM })[0]!);
    expect(verify(answer(a!, { nc: 1 })).ok).toBe(true);
    expect(verify(answer(b!, { nc: 1 })).ok).toBe(true);
    expect(verify(answer(a!, { nc: 2 })).ok).toBe(true); // a is now most recent
    expect(verify(answer(c!, { nc: 1 })).ok).toBe(true); // evicts b
    expect(verify(answer(a!, { nc: 2 }))).toMatchObject({ reason: 'replay' });
    expect(verify(answer(b!, { nc: 1 })).ok).toBe(true);
  });

  it('wrong password and unknown user', () => {
    const { auth, verify } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    expect(verify(answer(challenge!, { password: 'nope' }))).toMatchObject({ ok: false, reason: 'wrong-password', username: 'alice' });
    expect(verify(answer(challenge!, { username: 'mallory' }))).toMatchObject({ ok: false, reason: 'unknown-user', username: 'mallory' });
  });

  it('realm, uri, method and algorithm are all bound', () => {
    const { auth, verify } = setup({ algorithms: ['SHA-256'] });
    const [challenge] = auth.challenge({ realm: REALM });
    expect(verify(answer(challenge!, { realm: 'evil.example' }))).toMatchObject({ reason: 'realm-mismatch' });
    expect(verify(answer(challenge!, { uri: 'sip:other.example' }))).toMatchObject({ reason: 'uri-mismatch' });
    expect(verify(answer(challenge!), { uri: 'SIP:KNUDE.LOCAL' }).ok).toBe(true);
    expect(verify(answer(challenge!, { nc: 2 }), { method: 'INVITE' })).toMatchObject({ reason: 'wrong-password' });
    expect(verify(answer(challenge!, { algorithm: 'MD5', nc: 3 }))).toMatchObject({ reason: 'unsupported-algorithm' });
    expect(verify(answer(challenge!, { algorithm: 'SHA-512-256', nc: 4 }))).toMatchObject({ reason: 'unsupported-algorithm' });
  });

  it('missing and malformed credentials', () => {
    const { auth, verify } = setup();
    const [challenge] = auth.challenge({ realm: REALM });
    expect(verify(undefined)).toMatchObject({ ok: false, reason: 'missing' });
    expect(verify('  ')).toMatchObject({ ok: false, reason: 'missing' });
    const good = answer(challenge!);
    expect(verify(good.replace(/response="[^"]*", /, ''))).toMatchObject({ reason: 'malformed', detail: 'missing "response" parameter' });
    expect(verify(good.replace(/nc=\w+/, 'nc=1'))).toMatchObject({ reason: 'malformed', detail: expect.stringMatching(/nc/) });
    expect(verify(good.replace(/qop=auth/, 'qop=auth-int'))).toMatchObject({ reason: 'malformed' });
    expect(verify(good.replace(/response="[0-9a-f]{4}/, 'response="zzzz'))).toMatchObject({ reason: 'malformed' });
    expect(verify(`${good}, userhash=true`)).toMatchObject({ reason: 'malformed' });
    expect(verify('Basic YWxpY2U6c2VjcmV0')).toMatchObject({ reason: 'malformed' });
  });

  it('refuses a weak secret or bad settings', () => {
    expect(() => new DigestAuthenticator({ secret: 'short' })).toThrow(DigestConfigError);
    expect(() => new DigestAuthenticator({ secret: SECRET, nonceLifetimeSeconds: 0 })).toThrow(/lifetime/);
    expect(() => new DigestAuthenticator({ secret: SECRET, algorithms: [] })).toThrow(/at least one/);
  });
});
