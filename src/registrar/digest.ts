/**
 * Server side HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
 *
 * Nonces are stateless: `base64url(timestamp ‖ salt ‖ HMAC-SHA256(secret, timestamp ‖ salt ‖ realm))`.
 * Any node sharing the secret accepts them, so a registrar pool needs no shared nonce table and a
 * restart does not force every endpoint to re-prompt. The only state kept is a bounded per-node
 * map of the highest nonce-count seen, which is best effort replay protection (see NonceCounts).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DigestConfigError } from './errors.js';

export type DigestAlgorithm = 'SHA-256' | 'MD5';

export type DigestFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown-user'
  | 'wrong-password'
  | 'stale'
  | 'replay'
  | 'realm-mismatch'
  | 'uri-mismatch'
  | 'unsupported-algorithm';

export type DigestResult =
  | { ok: true; username: string; realm: string; algorithm: DigestAlgorithm }
  | { ok: false; reason: DigestFailureReason; detail: string; username?: string };

/** Returns the stored HA1 (lower-case hex) for the algorithm, or undefined for an unknown user. */
export type Ha1Lookup = (username: string, realm: string, algorithm: DigestAlgorithm) => string | undefined;

export interface VerifyRequest {
  method: string;
  /** Request-URI from the start line, compared with the `uri` directive. */
  uri: string;
  /** Raw Authorization / Proxy-Authorization header value; undefined when the request had none. */
  header: string | undefined;
  /** The realm this node challenges with; when given, credentials for another realm are refused. */
  realm?: string;
  lookupHa1: Ha1Lookup;
}

export interface ChallengeOptions {
  realm: string;
  /** The previous request had a valid digest over an expired nonce: the UA retries without prompting. */
  stale?: boolean;
  algorithms?: DigestAlgorithm[];
}

export interface DigestAuthenticatorOptions {
  /** Shared by all nodes of a pool; at least 16 bytes. */
  secret: string | Buffer;
  /** Default 300. */
  nonceLifetimeSeconds?: number;
  /** Algorithms offered and accepted; default SHA-256 and MD5. */
  algorithms?: DigestAlgorithm[];
  /** Accept RFC 2069 responses without qop (old endpoints); they get no nonce-count replay check. Default true. */
  allowNoQop?: boolean;
  /** How many nonces' counts are remembered; default 100 000 (≈ 10 MB). */
  nonceCountCapacity?: number;
  /** Clock in epoch ms, injectable for tests. */
  now?: () => number;
}

const HASHES: Record<DigestAlgorithm, 'md5' | 'sha256'> = { 'SHA-256': 'sha256', MD5: 'md5' };
/** RFC 8760 §2.4: challenges go out in preference order, strongest first. */
const PREFERENCE: DigestAlgorithm[] = ['SHA-256', 'MD5'];
const MAX_HEADER_LENGTH = 8192;
/** Nodes of a pool may disagree a little about the time; a nonce "from the future" within this is fine. */
const CLOCK_SKEW_MS = 30_000;
const NONCE_TS_BYTES = 6;
const NONCE_SALT_BYTES = 8;
const NONCE_MAC_BYTES = 16;
const NONCE_BYTES = NONCE_TS_BYTES + NONCE_SALT_BYTES + NONCE_MAC_BYTES;
const REQUIRED = ['username', 'realm', 'nonce', 'uri', 'response'] as const;

// ---- pure digest computation ---------------------------------------------------------------

function hash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASHES[algorithm]).update(data, 'utf8').digest('hex');
}

/** HA1 = H(username:realm:password), what the account store keeps instead of the password. */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hash(algorithm, `${username}:${realm}:${password}`);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  /** The -sess variants (RFC 7616 §3.4.2): HA1 becomes H(HA1:nonce:cnonce). */
  sess?: boolean;
  ha1: string;
  nonce: string;
  method: string;
  /** The `uri` directive as the client sent it (the digest covers that string, not our Request-URI). */
  uri: string;
  /** 'auth', or undefined for RFC 2069 clients. */
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

/** The `response` directive value, RFC 7616 §3.4.1 (and RFC 2069 when qop is absent). */
export function computeDigestResponse(input: ResponseInput): string {
  const { algorithm } = input;
  const ha1 = input.sess ? hash(algorithm, `${input.ha1}:${input.nonce}:${input.cnonce ?? ''}`) : input.ha1;
  const ha2 = hash(algorithm, `${input.method}:${input.uri}`);
  if (input.qop === 'auth') {
    return hash(algorithm, `${ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:auth:${ha2}`);
  }
  return hash(algorithm, `${ha1}:${input.nonce}:${ha2}`);
}

/** Constant time so a forger cannot learn the expected response byte by byte from timing. */
function safeEqualHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(given.toLowerCase(), 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---- Authorization header parsing ---------------------------------------------------------------

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const isLws = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

export type ParsedCredentials = { ok: true; params: Map<string, string> } | { ok: false; detail: string };

/**
 * Parses `Digest name=token, name="quoted \"string\""` into lower-cased names → unescaped values.
 * Written here (not on the SIP message parser) so it is exact about quoting and duplicates, which
 * matter for security: a duplicated directive could otherwise make two parsers disagree.
 */
export function parseDigestCredentials(raw: string): ParsedCredentials {
  if (raw.length > MAX_HEADER_LENGTH) return { ok: false, detail: `header longer than ${MAX_HEADER_LENGTH} characters` };
  let i = 0;
  const n = raw.length;
  const skipLws = (): void => {
    while (i < n && isLws(raw[i])) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(raw[i]!)) i++;
    return raw.slice(start, i);
  };

  skipLws();
  const scheme = token();
  if (!scheme) return { ok: false, detail: 'no authentication scheme' };
  if (scheme.toLowerCase() !== 'digest') return { ok: false, detail: `scheme "${scheme}" is not Digest` };
  if (!isLws(raw[i])) return { ok: false, detail: 'no parameters after "Digest"' };

  const params = new Map<string, string>();
  for (;;) {
    // Empty list elements (",,") are allowed by the #rule of RFC 7230.
    while (i < n && (isLws(raw[i]) || raw[i] === ',')) i++;
    if (i >= n) break;
    const name = token().toLowerCase();
    if (!name) return { ok: false, detail: `unexpected character ${JSON.stringify(raw[i])} at ${i}` };
    skipLws();
    if (raw[i] !== '=') return { ok: false, detail: `parameter "${name}" has no value` };
    i++;
    skipLws();
    let value: string;
    if (raw[i] === '"') {
      i++;
      let out = '';
      let closed = false;
      while (i < n) {
        const c = raw[i]!;
        if (c === '\\') {
          if (i + 1 >= n) break;
          out += raw[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          out += c;
          i++;
        }
      }
      if (!closed) return { ok: false, detail: `unterminated quoted value of "${name}"` };
      value = out;
    } else {
      value = token();
      if (!value) return { ok: false, detail: `parameter "${name}" has an empty value` };
    }
    if (params.has(name)) return { ok: false, detail: `parameter "${name}" appears twice` };
    params.set(name, value);
    skipLws();
    if (i < n && raw[i] !== ',') return { ok: false, detail: `expected "," after "${name}" at ${i}` };
  }
  if (params.size === 0) return { ok: false, detail: 'no parameters after "Digest"' };
  return { ok: true, params };
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

// ---- nonce-count memory ---------------------------------------------------------------------

/**
 * Highest nc seen per nonce, least recently used evicted first. Bounded so a flood of fresh nonces
 * cannot grow memory; an evicted (or other node's) nonce is accepted with any nc, because
 * stateless nonces cannot tell "never seen" from "forgotten". Within a node's memory horizon a
 * captured request cannot be replayed.
 */
class NonceCounts {
  private readonly map = new Map<string, number>();
  constructor(private readonly capacity: number) {}

  /** Records nc for the nonce; false when it is not above the highest already seen. */
  advance(nonce: string, nc: number): boolean {
    const seen = this.map.get(nonce);
    if (seen !== undefined && nc <= seen) return false;
    this.map.delete(nonce); // re-insert so Map order is recency order
    this.map.set(nonce, nc);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return true;
  }
}

// ---- authenticator ----------------------------------------------------------------------------

type NonceState = { valid: true } | { valid: false; why: string };

function parseAlgorithm(value: string | undefined): { algorithm: DigestAlgorithm; sess: boolean } | undefined {
  // Absent means MD5 (RFC 2617 §3.2.1). Tokens are case-insensitive.
  switch ((value ?? 'MD5').toUpperCase()) {
    case 'MD5':
      return { algorithm: 'MD5', sess: false };
    case 'MD5-SESS':
      return { algorithm: 'MD5', sess: true };
    case 'SHA-256':
      return { algorithm: 'SHA-256', sess: false };
    case 'SHA-256-SESS':
      return { algorithm: 'SHA-256', sess: true };
    default:
      return undefined;
  }
}

export class DigestAuthenticator {
  private readonly secret: Buffer;
  private readonly lifetimeMs: number;
  private readonly algorithms: DigestAlgorithm[];
  private readonly allowNoQop: boolean;
  private readonly counts: NonceCounts;
  private readonly now: () => number;

  constructor(options: DigestAuthenticatorOptions) {
    this.secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
    if (this.secret.length < 16) {
      throw new DigestConfigError(`digest nonce secret must be at least 16 bytes, got ${this.secret.length}`);
    }
    const lifetime = options.nonceLifetimeSeconds ?? 300;
    if (!Number.isFinite(lifetime) || lifetime <= 0) {
      throw new DigestConfigError(`nonce lifetime must be a positive number of seconds, got ${lifetime}`);
    }
    this.lifetimeMs = lifetime * 1000;
    this.algorithms = this.ordered(options.algorithms ?? PREFERENCE);
    this.allowNoQop = options.allowNoQop ?? true;
    const capacity = options.nonceCountCapacity ?? 100_000;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new DigestConfigError(`nonce-count capacity must be a positive integer, got ${capacity}`);
    }
    this.counts = new NonceCounts(capacity);
    this.now = options.now ?? Date.now;
  }

  private ordered(algorithms: readonly DigestAlgorithm[]): DigestAlgorithm[] {
    for (const a of algorithms) {
      if (!PREFERENCE.includes(a)) throw new DigestConfigError(`unsupported digest algorithm "${a}"`);
    }
    // The configured order is the offer order: RFC 8760 wants SHA-256 first, but an operator
    // with MD5-only endpoints that take the first challenge (SIPp 3.6, older phones) may put MD5 first.
    const list = [...new Set(algorithms)];
    if (list.length === 0) throw new DigestConfigError('at least one digest algorithm must be enabled');
    return list;
  }

  /**
   * WWW-Authenticate / Proxy-Authenticate values, one per algorithm, in the configured order (SHA-256 first by default, RFC 8760 §2.4).
   * They share one nonce: the UA answers exactly one of them.
   */
  challenge(opts: ChallengeOptions): string[] {
    const algorithms = opts.algorithms ? this.ordered(opts.algorithms) : this.algorithms;
    const nonce = this.issueNonce(opts.realm);
    return algorithms.map(
      (a) =>
        `Digest realm=${quote(opts.realm)}, nonce=${quote(nonce)}, algorithm=${a}, qop="auth"` +
        (opts.stale ? ', stale=true' : ''),
    );
  }

  /** A fresh nonce for the realm (exposed for tests and for Authentication-Info nextnonce). */
  issueNonce(realm: string): string {
    const body = Buffer.alloc(NONCE_TS_BYTES + NONCE_SALT_BYTES);
    body.writeUIntBE(Math.floor(this.now()), 0, NONCE_TS_BYTES);
    // The salt makes nonces unique even within one millisecond, so two UAs never share nc state.
    randomBytes(NONCE_SALT_BYTES).copy(body, NONCE_TS_BYTES);
    return Buffer.concat([body, this.mac(body, realm)]).toString('base64url');
  }

  private mac(body: Buffer, realm: string): Buffer {
    // body has a fixed length, so body ‖ realm is unambiguous.
    return createHmac('sha256', this.secret).update(body).update(realm, 'utf8').digest().subarray(0, NONCE_MAC_BYTES);
  }

  private checkNonce(nonce: string, realm: string): NonceState {
    const buf = Buffer.from(nonce, 'base64url');
    // Node's decoder skips junk characters; re-encoding catches nonces we never produced.
    if (buf.length !== NONCE_BYTES || buf.toString('base64url') !== nonce) {
      return { valid: false, why: 'nonce was not issued by this registrar' };
    }
    const body = buf.subarray(0, NONCE_TS_BYTES + NONCE_SALT_BYTES);
    if (!timingSafeEqual(buf.subarray(NONCE_TS_BYTES + NONCE_SALT_BYTES), this.mac(body, realm))) {
      return { valid: false, why: 'nonce signature does not match (tampered, another realm, or another secret)' };
    }
    const age = this.now() - buf.readUIntBE(0, NONCE_TS_BYTES);
    if (age > this.lifetimeMs) return { valid: false, why: `nonce expired ${Math.round((age - this.lifetimeMs) / 1000)}s ago` };
    if (age < -CLOCK_SKEW_MS) return { valid: false, why: 'nonce timestamp is in the future' };
    return { valid: true };
  }

  /**
   * Checks credentials. Order matters: the digest is checked before the nonce's freshness so that
   * `stale` is only reported to a UA that knows the password (RFC 7616 §3.3: otherwise it would
   * retry forever without prompting), and nc is recorded only after the digest is proven, so a
   * forger cannot burn a legitimate UA's counter.
   */
  verify(req: VerifyRequest): DigestResult {
    if (req.header === undefined || req.header.trim() === '') {
      return { ok: false, reason: 'missing', detail: 'no Authorization header' };
    }
    const parsed = parseDigestCredentials(req.header);
    if (!parsed.ok) return { ok: false, reason: 'malformed', detail: parsed.detail };
    const p = parsed.params;

    const missing = REQUIRED.find((name) => !p.has(name));
    if (missing) return { ok: false, reason: 'malformed', detail: `missing "${missing}" parameter` };
    const username = p.get('username')!;
    const realm = p.get('realm')!;
    const nonce = p.get('nonce')!;
    const uri = p.get('uri')!;
    const response = p.get('response')!;
    const fail = (reason: DigestFailureReason, detail: string): DigestResult => ({ ok: false, reason, detail, username });

    if (p.has('userhash') && p.get('userhash')!.toLowerCase() !== 'false') {
      return fail('malformed', 'userhash was not offered');
    }
    const alg = parseAlgorithm(p.get('algorithm'));
    if (!alg || !this.algorithms.includes(alg.algorithm)) {
      return fail('unsupported-algorithm', `algorithm "${p.get('algorithm') ?? 'MD5'}" is not enabled (${this.algorithms.join(', ')})`);
    }
    const expectedLength = alg.algorithm === 'MD5' ? 32 : 64;
    if (response.length !== expectedLength || !/^[0-9a-fA-F]+$/.test(response)) {
      return fail('malformed', `response is not ${expectedLength} hex digits`);
    }

    const qopRaw = p.get('qop');
    let nc: number | undefined;
    const cnonce = p.get('cnonce');
    if (qopRaw !== undefined) {
      if (qopRaw.toLowerCase() !== 'auth') return fail('malformed', `qop "${qopRaw}" was not offered (only "auth")`);
      const ncRaw = p.get('nc');
      if (ncRaw === undefined || !/^[0-9a-fA-F]{8}$/.test(ncRaw)) return fail('malformed', 'qop=auth needs nc of 8 hex digits');
      if (!cnonce) return fail('malformed', 'qop=auth needs a cnonce');
      nc = parseInt(ncRaw, 16);
    } else if (!this.allowNoQop) {
      return fail('malformed', 'qop is required');
    }
    if (alg.sess && !cnonce) return fail('malformed', `${p.get('algorithm')} needs a cnonce`);

    if (req.realm !== undefined && realm !== req.realm) {
      return fail('realm-mismatch', `credentials are for realm "${realm}", expected "${req.realm}"`);
    }
    // SIP URIs' scheme and host are case-insensitive; a UA that changes case is not replaying elsewhere.
    if (uri !== req.uri && uri.toLowerCase() !== req.uri.toLowerCase()) {
      return fail('uri-mismatch', `uri "${uri}" does not match the Request-URI "${req.uri}"`);
    }

    const ha1 = req.lookupHa1(username, realm, alg.algorithm);
    if (ha1 === undefined) return fail('unknown-user', `no ${alg.algorithm} credentials for "${username}" in realm "${realm}"`);

    const expected = computeDigestResponse({
      algorithm: alg.algorithm,
      sess: alg.sess,
      ha1: ha1.toLowerCase(),
      nonce,
      method: req.method,
      uri,
      qop: qopRaw === undefined ? undefined : 'auth',
      nc: p.get('nc'),
      cnonce,
    });
    const nonceState = this.checkNonce(nonce, realm);
    if (!safeEqualHex(expected, response)) {
      return fail('wrong-password', nonceState.valid ? 'response does not match' : `response does not match; also ${nonceState.why}`);
    }
    if (!nonceState.valid) return fail('stale', nonceState.why);
    if (nc !== undefined && !this.counts.advance(nonce, nc)) {
      return fail('replay', `nonce-count ${p.get('nc')} was already used with this nonce`);
    }
    return { ok: true, username, realm, algorithm: alg.algorithm };
  }
}
