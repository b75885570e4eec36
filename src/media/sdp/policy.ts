/**
 * knude's media security policy for SIP legs: every call is encrypted with AES-128 or
 * stronger. An offer (or an answer to knude's own offer) that would let any active RTP stream
 * flow in clear, with a null cipher, without authentication or with a suite the operator has
 * not allowed is refused as a whole with 488 and a Warning that tells the endpoint's
 * administrator what to change. m-lines with port 0 carry nothing and are not looked at.
 */
import { parseCryptoAttribute, type CryptoAttribute } from './crypto-attr.js';
import { refuse, SdpError, type RefusalReason, type SdpRefusal } from './errors.js';
import { isDtlsProtocol, isRtpProtocol, isSecureRtpProtocol, parseSdp, type ParsedSdp } from './parse.js';
import { isNullSuite, type SrtpSuite } from './suites.js';

export interface SecurityPolicy {
  /** Suites knude accepts on SIP legs, e.g. from configuration. */
  allowedSuites: readonly SrtpSuite[];
  /** DTLS-SRTP (UDP/TLS/RTP/SAVP(F) with a=fingerprint): only where the relay runs DTLS. */
  allowDtls: boolean;
}

/** An a=crypto line knude can use. */
export type AcceptableCrypto = CryptoAttribute & { suite: SrtpSuite };

export interface MediaSecurity {
  index: number;
  type: string;
  protocol: string;
  port: number;
  /**
   * How this m-line is keyed: 'sdes' (a=crypto), 'dtls' (DTLS-SRTP), or 'none' for an m-line
   * that carries no media knude relays (port 0, or not RTP: BFCP, T.38...) and gets rejected.
   */
  keying: 'sdes' | 'dtls' | 'none';
  /** The acceptable a=crypto lines, in the offer's order (empty unless keying is 'sdes'). */
  crypto: AcceptableCrypto[];
}

export interface OfferSecurity {
  ok: true;
  parsed: ParsedSdp;
  media: MediaSecurity[];
}

const MUST_ENCRYPT = 'media must be encrypted (SRTP, AES-128 or stronger)';

export function checkOfferSecurity(sdp: string, policy: SecurityPolicy): OfferSecurity | SdpRefusal {
  let parsed: ParsedSdp;
  try {
    parsed = parseSdp(sdp);
  } catch (err) {
    return malformed(err);
  }
  const media: MediaSecurity[] = [];
  for (const [index, m] of parsed.session.media.entries()) {
    const base = { index, type: m.type, protocol: m.protocol, port: m.port };
    if (m.port === 0 || !isRtpProtocol(m.protocol)) {
      media.push({ ...base, keying: 'none', crypto: [] });
      continue;
    }
    const rawCrypto = parsed.crypto[index];
    if (!isSecureRtpProtocol(m.protocol)) {
      if (rawCrypto.length > 0) {
        return refuse(488, 'best-effort-srtp', `${m.protocol} with a=crypto (best-effort SRTP) is not allowed: set the endpoint's encryption to mandatory so it offers RTP/SAVP`, index);
      }
      return refuse(488, 'plain-rtp', `plain ${m.protocol} is not allowed: ${MUST_ENCRYPT}`, index);
    }
    if (isDtlsProtocol(m.protocol)) {
      if (!policy.allowDtls) return refuse(488, 'dtls-not-allowed', `DTLS-SRTP (${m.protocol}) is not accepted here: offer SDES keys (RTP/SAVP with a=crypto)`, index);
      if (!(m.fingerprint ?? parsed.session.fingerprint)) return refuse(488, 'no-fingerprint', `${m.protocol} ${m.type} m-line has no a=fingerprint: DTLS-SRTP needs one`, index);
      media.push({ ...base, keying: 'dtls', crypto: [] });
      continue;
    }
    if (rawCrypto.length === 0) return refuse(488, 'no-crypto', `${m.protocol} ${m.type} m-line has no a=crypto: ${MUST_ENCRYPT}`, index);
    const judged = rawCrypto.map((raw) => judgeCrypto(raw, policy.allowedSuites, m.type));
    const acceptable = judged.filter((j): j is AcceptableCrypto => !('problem' in j));
    if (acceptable.length === 0) return worstProblem(judged as Problem[], policy.allowedSuites, index);
    media.push({ ...base, keying: 'sdes', crypto: acceptable });
  }
  return { ok: true, parsed, media };
}

interface Problem {
  problem: RefusalReason;
  text: string;
  suite?: string;
}

function judgeCrypto(raw: string, allowed: readonly SrtpSuite[], mediaType: string): AcceptableCrypto | Problem {
  let attr: CryptoAttribute | undefined;
  let error: SdpError | undefined;
  try {
    attr = parseCryptoAttribute(raw);
  } catch (err) {
    if (!(err instanceof SdpError)) throw err;
    error = err;
  }
  const suite = attr?.suite ?? error?.suite;
  if (suite && isNullSuite(suite)) return { problem: 'null-cipher', text: `null cipher ${suite} is not allowed: ${MUST_ENCRYPT}`, suite };
  if (suite && !(allowed as readonly string[]).includes(suite)) return { problem: 'suite-not-allowed', text: '', suite };
  if (error || !attr) {
    const tag = /^\s*(\d+)/.exec(raw)?.[1];
    return { problem: 'malformed-crypto', text: `malformed a=crypto${tag ? ` tag ${tag}` : ''} on the ${mediaType} m-line: ${error?.message ?? 'unreadable'}` };
  }
  return paramsProblem(attr) ?? (attr as AcceptableCrypto);
}

/** Session parameters that weaken SRTP, or that knude's SRTP cannot honour (RFC 4568 §6.3). */
function paramsProblem(attr: CryptoAttribute): Problem | undefined {
  const p = attr.params;
  const weakening = [p.unencryptedSrtp && 'UNENCRYPTED_SRTP', p.unencryptedSrtcp && 'UNENCRYPTED_SRTCP', p.unauthenticatedSrtp && 'UNAUTHENTICATED_SRTP'].filter(Boolean);
  if (weakening.length > 0) {
    return { problem: 'unencrypted-srtp', text: `a=crypto with ${weakening.join(', ')} is not allowed: media must be encrypted and authenticated (SRTP, AES-128 or stronger)` };
  }
  if (p.kdr !== undefined && p.kdr !== 0) return { problem: 'unsupported-session-param', text: `a=crypto with KDR=${p.kdr} is not supported: offer no KDR (or KDR=0)` };
  // Unknown parameters must make the line unusable unless marked optional with '-' (RFC 4568 §6.3.7).
  const unknown = (p.unknown ?? []).filter((u) => !u.startsWith('-'));
  if (unknown.length > 0) return { problem: 'unsupported-session-param', text: `a=crypto session parameter ${unknown.join(', ')} is not supported` };
  return undefined;
}

const PROBLEM_ORDER: RefusalReason[] = ['null-cipher', 'unencrypted-srtp', 'malformed-crypto', 'unsupported-session-param', 'suite-not-allowed'];

/** The refusal that tells most: a null cipher before a mere suite mismatch. */
function worstProblem(problems: Problem[], allowed: readonly SrtpSuite[], index: number): SdpRefusal {
  const rank = (p: Problem): number => PROBLEM_ORDER.indexOf(p.problem);
  const worst = problems.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  if (worst.problem !== 'suite-not-allowed') return refuse(488, worst.problem, worst.text, index);
  const suites = [...new Set(problems.map((p) => p.suite))].join(', ');
  const plural = suites.includes(',') ? 'crypto suites' : 'crypto suite';
  const verb = suites.includes(',') ? 'are' : 'is';
  return refuse(488, 'suite-not-allowed', `${plural} ${suites} ${verb} not allowed: knude accepts ${allowed.join(', ')}`, index);
}

function malformed(err: unknown): SdpRefusal {
  if (err instanceof SdpError) return refuse(400, 'malformed-sdp', `SDP could not be parsed: ${err.message}`);
  throw err;
}

// ---------------------------------------------------------------------------------------------
// Answers to knude's own offers

export interface AnswerMediaSecurity {
  index: number;
  type: string;
  /** False for an m-line the answer rejected (port 0). */
  active: boolean;
  /** Our a=crypto line the answer chose, and the answer's own (its key is the remote's). */
  offered?: CryptoAttribute & { suite: SrtpSuite };
  answered?: AcceptableCrypto;
}

export interface AnswerSecurity {
  ok: true;
  offer: ParsedSdp;
  answer: ParsedSdp;
  media: AnswerMediaSecurity[];
}

/**
 * Checks an answer against the offer knude sent: same m-lines, same transport, exactly one
 * a=crypto per active SRTP m-line (RFC 4568 §7.1.2), with a tag knude offered and that tag's
 * suite, and a well-formed key.
 */
export function checkAnswerSecurity(offerWeSent: string, answer: string): AnswerSecurity | SdpRefusal {
  let offer: ParsedSdp;
  let parsed: ParsedSdp;
  try {
    offer = parseSdp(offerWeSent);
    parsed = parseSdp(answer);
  } catch (err) {
    return malformed(err);
  }
  const offered = offer.session.media;
  const answered = parsed.session.media;
  if (offered.length !== answered.length) {
    return refuse(488, 'answer-mismatch', `answer has ${answered.length} m-lines, the offer had ${offered.length} (RFC 3264 §6)`);
  }
  const media: AnswerMediaSecurity[] = [];
  for (const [index, a] of answered.entries()) {
    const o = offered[index];
    if (a.type !== o.type) return refuse(488, 'answer-mismatch', `answer m-line ${index} is ${a.type}, the offer's is ${o.type}`, index);
    if (a.port === 0) {
      media.push({ index, type: a.type, active: false });
      continue;
    }
    if (o.port === 0) return refuse(488, 'answer-mismatch', `answer accepts m-line ${index} (${a.type}) that the offer rejected`, index);
    if (isRtpProtocol(a.protocol) && !isSecureRtpProtocol(a.protocol)) return refuse(488, 'plain-rtp', `plain ${a.protocol} is not allowed: ${MUST_ENCRYPT}`, index);
    if (a.protocol.toUpperCase() !== o.protocol.toUpperCase()) return refuse(488, 'answer-mismatch', `answer changes m-line ${index} from ${o.protocol} to ${a.protocol}`, index);
    let ours: CryptoAttribute[];
    try {
      ours = offer.crypto[index].map((raw) => parseCryptoAttribute(raw));
    } catch (err) {
      return malformed(err); // knude wrote these: only a caller passing the wrong offer gets here
    }
    if (ours.length === 0) {
      media.push({ index, type: a.type, active: true });
      continue;
    }
    const theirs = parsed.crypto[index];
    if (theirs.length === 0) return refuse(488, 'answer-crypto', `answer drops a=crypto on the ${a.type} m-line: ${MUST_ENCRYPT}`, index);
    if (theirs.length > 1) return refuse(488, 'answer-crypto', `answer has ${theirs.length} a=crypto lines on the ${a.type} m-line: an answer chooses one (RFC 4568 §7.1.2)`, index);
    const judged = judgeCrypto(theirs[0], ours.map((c) => c.suite as SrtpSuite), a.type);
    const tag = /^\s*(\d+)/.exec(theirs[0])?.[1];
    const sameTag = ours.find((c) => String(c.tag) === tag);
    if (!sameTag) return refuse(488, 'answer-crypto', `answer picks a=crypto tag ${tag ?? '?'} on the ${a.type} m-line, which knude did not offer`, index);
    const suite = judged.suite;
    if (suite && suite !== sameTag.suite && !isNullSuite(suite)) {
      return refuse(488, 'answer-crypto', `answer changes a=crypto tag ${tag} on the ${a.type} m-line from ${sameTag.suite} to ${suite}`, index);
    }
    if ('problem' in judged) return worstProblem([judged], [sameTag.suite as SrtpSuite], index);
    media.push({ index, type: a.type, active: true, offered: sameTag as AcceptableCrypto, answered: judged });
  }
  return { ok: true, offer, answer: parsed, media };
}
