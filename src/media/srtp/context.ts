/**
 * One SRTP/SRTCP cryptographic context (RFC 3711 §3.2): one master key of one direction of an
 * SDES exchange, with per-SSRC state for every stream that uses it. A relay keeps two: one to
 * unprotect what an endpoint sends, one to protect what it sends back.
 *
 * Receiving: the rollover counter is estimated from the highest authenticated index (RFC 3711
 * §3.3.1, Appendix A), the tag is verified first, then the replay window is asked, and only a
 * packet that passed both changes any state. A forged packet can therefore neither move the
 * rollover counter nor burn an index.
 *
 * Sending: the index is estimated the same way from the highest index sent, so a sequence
 * wrap (or a packet the relay hands over slightly reordered) gets the right ROC. Repeats of an
 * index are allowed on send, unlike libsrtp's default: a relay may forward the same packet
 * twice, which gives the same ciphertext and leaks nothing.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SrtpError, type SrtpErrorCode } from './errors.js';
import { deriveSessionKeys, type SessionKeys, type SessionKeySet } from './kdf.js';
import { ReplayWindow } from './replay.js';
import { SRTP_SUITES, cipherName, isSrtpSuite, type SrtpSuite, type SrtpSuiteInfo } from './suites.js';

export interface SrtpKeyParams {
  suite: SrtpSuite;
  masterKey: Buffer;
  masterSalt: Buffer;
  /** RFC 4568 `inline:key|lifetime|MKI:length`: the MKI value and its length in bytes (1..128). */
  mki?: { value: number; length: number };
  /** Master key lifetime in packets (SRTP and SRTCP, protected and accepted, counted together). */
  lifetime?: number;
  /** Replay window size in packets (RFC 3711 §3.3.2; default 128). */
  replayWindow?: number;
}

export interface SrtpStats {
  protected: number;
  unprotected: number;
  authFailures: number;
  replayed: number;
  /** Refused as malformed, too short, with an unknown MKI or past the key lifetime. */
  malformed: number;
}

export const DEFAULT_REPLAY_WINDOW = 128;
const MAX_REPLAY_WINDOW = 32_768;
/** RFC 3711 §9.2: at most 2^48 SRTP packets and 2^31 SRTCP packets under one master key. */
const MAX_RTP_INDEX = 2 ** 48;
const MAX_RTCP_INDEX = 0x7fff_ffff;
const RTP_HEADER = 12;
const RTCP_HEADER = 8;
const SRTCP_E_BIT = 0x8000_0000;
const GCM_TAG = 16;

/**
 * HMAC-SHA1 under one session key. createHmac per packet measured as fast as copying
 * pre-hashed pad states (Hash.copy) or one-shot hashing on Node 20, and is the simplest.
 */
class HmacSha1 {
  constructor(private readonly key: Buffer) {}

  digest(data: Buffer, trailer?: Buffer): Buffer {
    const h = createHmac('sha1', this.key).update(data);
    if (trailer) h.update(trailer);
    return h.digest();
  }
}

/** The session keys of SRTP or of SRTCP, ready to use. */
class SessionCrypto {
  readonly key: KeyObject;
  readonly salt: Buffer;
  readonly mac: HmacSha1 | undefined;
  constructor(keys: SessionKeySet) {
    this.key = createSecretKey(keys.encryptionKey);
    this.salt = Buffer.from(keys.salt);
    this.mac = keys.authKey.length > 0 ? new HmacSha1(keys.authKey) : undefined;
  }
}

interface ReceiveStream {
  window: ReplayWindow;
}

function fail(code: SrtpErrorCode, message: string): never {
  throw new SrtpError(code, message);
}

/** Length of the RTP header with CSRCs and header extension, or an SrtpError. */
function rtpHeaderLength(packet: Buffer, trailer: number): number {
  if (!Buffer.isBuffer(packet)) fail('malformed', 'packet is not a Buffer');
  if (packet.length < RTP_HEADER + trailer) {
    fail('too-short', `RTP packet of ${packet.length} bytes is shorter than a header and ${trailer} bytes of SRTP trailer`);
  }
  const b0 = packet[0]!;
  if (b0 >> 6 !== 2) fail('malformed', `RTP version ${b0 >> 6}, expected 2`);
  let length = RTP_HEADER + 4 * (b0 & 0x0f);
  if (b0 & 0x10) {
    if (length + 4 > packet.length - trailer) fail('malformed', 'RTP header extension runs past the packet');
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  if (length > packet.length - trailer) fail('malformed', `RTP header of ${length} bytes runs past the payload`);
  return length;
}

/**
 * RFC 3711 Appendix A: the index of sequence number `seq` given the highest index seen, i.e.
 * the ROC value v among ROC-1, ROC, ROC+1 that puts the packet closest to the highest one.
 * May be negative: a packet from before the stream's first one.
 */
export function estimateIndex(highest: number, seq: number): number {
  if (highest < 0) return seq;
  const roc = Math.floor(highest / 65_536);
  const sl = highest % 65_536;
  let v = roc;
  if (sl < 32_768) {
    if (seq - sl > 32_768) v = roc - 1;
  } else if (sl - 32_768 > seq) {
    v = roc + 1;
  }
  return v * 65_536 + seq;
}

export class SrtpContext {
  readonly suite: SrtpSuite;
  readonly stats: SrtpStats = { protected: 0, unprotected: 0, authFailures: 0, replayed: 0, malformed: 0 };

  private readonly info: SrtpSuiteInfo;
  private readonly rtp: SessionCrypto;
  private readonly rtcp: SessionCrypto;
  private readonly cipher: ReturnType<typeof cipherName>;
  private readonly mki: Buffer;
  private readonly lifetime: number;
  private readonly windowSize: number;
  /** Packets processed under this master key, against `lifetime`. */
  private used = 0;
  private readonly sendRtp = new Map<number, number>(); // ssrc -> highest index sent
  private readonly recvRtp = new Map<number, ReceiveStream>();
  private readonly sendRtcp = new Map<number, number>(); // ssrc -> next SRTCP index
  private readonly recvRtcp = new Map<number, ReceiveStream>();
  /** Scratch for IVs and the 4-byte ROC/SRTCP-index words; node:crypto copies what it is given. */
  private readonly iv = Buffer.alloc(16);
  private readonly word = Buffer.alloc(4);

  /**
   * `sessionKeys` skips the key derivation; only RFC test vectors that start from session keys
   * (RFC 7714 §16, §17) need it.
   */
  constructor(params: SrtpKeyParams, sessionKeys?: SessionKeys) {
    const p = params as Partial<SrtpKeyParams> | undefined;
    if (!p || !isSrtpSuite(p.suite)) fail('malformed', `unknown SRTP suite ${JSON.stringify(p?.suite)}`);
    this.suite = p.suite;
    this.info = SRTP_SUITES[p.suite];
    this.cipher = cipherName(p.suite);
    if (!sessionKeys) {
      if (!Buffer.isBuffer(p.masterKey) || p.masterKey.length !== this.info.keyLength) {
        fail('malformed', `${p.suite} needs a ${this.info.keyLength}-byte master key`);
      }
      if (!Buffer.isBuffer(p.masterSalt) || p.masterSalt.length !== this.info.saltLength) {
        fail('malformed', `${p.suite} needs a ${this.info.saltLength}-byte master salt`);
      }
    }
    const keys = sessionKeys ?? deriveSessionKeys(p.suite, p.masterKey!, p.masterSalt!);
    this.rtp = new SessionCrypto(keys.rtp);
    this.rtcp = new SessionCrypto(keys.rtcp);
    this.mki = encodeMki(p.mki);
    if (p.lifetime !== undefined && !(Number.isSafeInteger(p.lifetime) && p.lifetime > 0)) {
      fail('malformed', `key lifetime must be a positive number of packets, not ${p.lifetime}`);
    }
    this.lifetime = p.lifetime ?? Infinity;
    const w = p.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    if (!Number.isInteger(w) || w < 1 || w > MAX_REPLAY_WINDOW) {
      fail('malformed', `replay window must be 1..${MAX_REPLAY_WINDOW} packets, not ${w}`);
    }
    this.windowSize = w;
  }

  /** RTP in, SRTP out: the payload encrypted, then MKI and tag (for GCM: tag, then MKI). */
  protectRtp(packet: Buffer): Buffer {
    return this.guard(() => {
      const hdr = rtpHeaderLength(packet, 0);
      this.checkLifetime();
      const ssrc = packet.readUInt32BE(8);
      const seq = packet.readUInt16BE(2);
      const highest = this.sendRtp.get(ssrc) ?? -1;
      const index = Math.max(estimateIndex(highest, seq), seq);
      if (index >= MAX_RTP_INDEX) fail('key-lifetime', `SRTP index of SSRC ${ssrc} exhausted (2^48 packets)`);
      const roc = Math.floor(index / 65_536);
      const out = this.info.aead ? this.sealRtp(packet, hdr, ssrc, roc, seq) : this.encryptRtpCm(packet, hdr, ssrc, roc, seq);
      if (index > highest) this.sendRtp.set(ssrc, index);
      this.used++;
      this.stats.protected++;
      return out;
    }, true);
  }

  /** SRTP in, RTP out, after authentication and the replay check. */
  unprotectRtp(packet: Buffer): Buffer {
    return this.guard(() => {
      const tagLength = this.info.rtpTagLength;
      const mkiLength = this.mki.length;
      const hdr = rtpHeaderLength(packet, tagLength + mkiLength);
      this.checkLifetime();
      // CM: header | payload | MKI | tag.  GCM: header | payload+tag | MKI.
      const mkiAt = packet.length - mkiLength - (this.info.aead ? 0 : tagLength);
      this.checkMki(packet, mkiAt);
      const ssrc = packet.readUInt32BE(8);
      const seq = packet.readUInt16BE(2);
      const stream = this.recvRtp.get(ssrc);
      const index = estimateIndex(stream ? stream.window.highest : -1, seq);
      const what = `SRTP SSRC ${ssrc} seq ${seq}`;
      if (index < 0) this.refuse('replay', `${what} is from before the stream's first packet`);
      if (index >= MAX_RTP_INDEX) fail('key-lifetime', `SRTP index of SSRC ${ssrc} exhausted (2^48 packets)`);
      const roc = Math.floor(index / 65_536);
      let plain: Buffer | undefined;
      if (this.info.aead) {
        plain = this.openRtp(packet, hdr, mkiAt, ssrc, roc, seq);
      } else {
        this.word.writeUInt32BE(roc);
        const tag = this.rtp.mac!.digest(packet.subarray(0, mkiAt), this.word);
        if (!timingSafeEqual(tag.subarray(0, tagLength), packet.subarray(mkiAt + mkiLength))) {
          this.refuse('auth', `${what}: authentication failed (ROC ${roc})`);
        }
      }
      this.checkReplay(stream, index, what);
      const out = plain ?? this.cryptRtpCm(packet, hdr, mkiAt, ssrc, roc, seq);
      this.accept(this.recvRtp, stream, ssrc, index);
      return out;
    }, false);
  }

  /** RTCP in, SRTCP out: encrypted after the first 8 bytes, E-bit and index, MKI, tag. */
  protectRtcp(packet: Buffer): Buffer {
    return this.guard(() => {
      checkRtcp(packet, 0);
      this.checkLifetime();
      const ssrc = packet.readUInt32BE(4);
      const index = this.sendRtcp.get(ssrc) ?? 0;
      if (index > MAX_RTCP_INDEX) fail('key-lifetime', `SRTCP index of SSRC ${ssrc} exhausted (2^31 packets)`);
      const out = this.info.aead ? this.sealRtcp(packet, ssrc, index) : this.encryptRtcpCm(packet, ssrc, index);
      this.sendRtcp.set(ssrc, index + 1);
      this.used++;
      this.stats.protected++;
      return out;
    }, true);
  }

  /** SRTCP in, RTCP out. Packets sent with the E-bit clear are authenticated and returned as they are. */
  unprotectRtcp(packet: Buffer): Buffer {
    return this.guard(() => {
      const tagLength = this.info.rtcpTagLength;
      const mkiLength = this.mki.length;
      checkRtcp(packet, 4 + tagLength + mkiLength);
      this.checkLifetime();
      const eIndexAt = this.info.aead ? packet.length - mkiLength - 4 : packet.length - tagLength - mkiLength - 4;
      // MKI follows the E-bit/index word in both layouts (CM: ... | E+index | MKI | tag; GCM: ... | tag | E+index | MKI).
      this.checkMki(packet, eIndexAt + 4);
      const word = packet.readUInt32BE(eIndexAt);
      const encrypted = (word & SRTCP_E_BIT) !== 0;
      const index = word & MAX_RTCP_INDEX;
      const ssrc = packet.readUInt32BE(4);
      let out: Buffer;
      if (this.info.aead) {
        out = this.openRtcp(packet, eIndexAt, ssrc, index, encrypted);
      } else {
        const authEnd = eIndexAt + 4;
        const tag = this.rtcp.mac!.digest(packet.subarray(0, authEnd));
        if (!timingSafeEqual(tag.subarray(0, tagLength), packet.subarray(authEnd + mkiLength))) {
          this.refuse('auth', `SRTCP SSRC ${ssrc} index ${index}: authentication failed`);
        }
        out = encrypted ? this.cryptRtcpCm(packet, eIndexAt, ssrc, index) : Buffer.from(packet.subarray(0, eIndexAt));
      }
      const stream = this.recvRtcp.get(ssrc);
      this.checkReplay(stream, index, `SRTCP SSRC ${ssrc} index ${index}`);
      this.accept(this.recvRtcp, stream, ssrc, index);
      return out;
    }, false);
  }

  // --- AES-CM + HMAC-SHA1 (RFC 3711 §4.1.1, §4.2) --------------------------------------------

  /** IV = (k_s << 16) XOR (SSRC << 64) XOR (index << 16), with the index split as ROC and SEQ (or the SRTCP index). */
  private cmIv(salt: Buffer, ssrc: number, hi: number, lo: number, loBytes: 2 | 4): Buffer {
    const iv = this.iv;
    salt.copy(iv, 0, 0, 14);
    iv[14] = 0;
    iv[15] = 0;
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
    if (loBytes === 2) {
      iv.writeUInt32BE((iv.readUInt32BE(8) ^ hi) >>> 0, 8);
      iv.writeUInt16BE(iv.readUInt16BE(12) ^ lo, 12);
    } else {
      iv.writeUInt32BE((iv.readUInt32BE(10) ^ lo) >>> 0, 10);
    }
    return iv;
  }

  private encryptRtpCm(packet: Buffer, hdr: number, ssrc: number, roc: number, seq: number): Buffer {
    const tagLength = this.info.rtpTagLength;
    const body = packet.length;
    const out = Buffer.allocUnsafe(body + this.mki.length + tagLength);
    packet.copy(out, 0, 0, hdr);
    const c = createCipheriv(this.cipher, this.rtp.key, this.cmIv(this.rtp.salt, ssrc, roc, seq, 2));
    c.update(packet.subarray(hdr)).copy(out, hdr);
    this.mki.copy(out, body);
    this.word.writeUInt32BE(roc);
    this.rtp.mac!.digest(out.subarray(0, body), this.word).copy(out, body + this.mki.length, 0, tagLength);
    return out;
  }

  private cryptRtpCm(packet: Buffer, hdr: number, end: number, ssrc: number, roc: number, seq: number): Buffer {
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, hdr);
    const c = createCipheriv(this.cipher, this.rtp.key, this.cmIv(this.rtp.salt, ssrc, roc, seq, 2));
    c.update(packet.subarray(hdr, end)).copy(out, hdr);
    return out;
  }

  private encryptRtcpCm(packet: Buffer, ssrc: number, index: number): Buffer {
    const tagLength = this.info.rtcpTagLength;
    const body = packet.length;
    const out = Buffer.allocUnsafe(body + 4 + this.mki.length + tagLength);
    packet.copy(out, 0, 0, RTCP_HEADER);
    const c = createCipheriv(this.cipher, this.rtcp.key, this.cmIv(this.rtcp.salt, ssrc, 0, index, 4));
    c.update(packet.subarray(RTCP_HEADER)).copy(out, RTCP_HEADER);
    out.writeUInt32BE((SRTCP_E_BIT | index) >>> 0, body);
    this.mki.copy(out, body + 4);
    this.rtcp.mac!.digest(out.subarray(0, body + 4)).copy(out, body + 4 + this.mki.length, 0, tagLength);
    return out;
  }

  private cryptRtcpCm(packet: Buffer, end: number, ssrc: number, index: number): Buffer {
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, RTCP_HEADER);
    const c = createCipheriv(this.cipher, this.rtcp.key, this.cmIv(this.rtcp.salt, ssrc, 0, index, 4));
    c.update(packet.subarray(RTCP_HEADER, end)).copy(out, RTCP_HEADER);
    return out;
  }

  // --- AES-GCM (RFC 7714 §8, §9) ---------------------------------------------------------------

  /** IV = (0x0000 || SSRC || ROC || SEQ) XOR salt, or (0x0000 || SSRC || 0x0000 || SRTCP index) XOR salt. */
  private gcmIv(salt: Buffer, ssrc: number, hi: number, lo: number, loBytes: 2 | 4): Buffer {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(ssrc, 2);
    if (loBytes === 2) {
      iv.writeUInt32BE(hi, 6);
      iv.writeUInt16BE(lo, 10);
    } else {
      iv.writeUInt32BE(lo, 8);
    }
    for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
    return iv;
  }

  private sealRtp(packet: Buffer, hdr: number, ssrc: number, roc: number, seq: number): Buffer {
    const body = packet.length;
    const out = Buffer.allocUnsafe(body + GCM_TAG + this.mki.length);
    packet.copy(out, 0, 0, hdr);
    const c = createCipheriv(this.cipher as 'aes-128-gcm', this.rtp.key, this.gcmIv(this.rtp.salt, ssrc, roc, seq, 2), { authTagLength: GCM_TAG });
    c.setAAD(packet.subarray(0, hdr));
    c.update(packet.subarray(hdr)).copy(out, hdr);
    c.final();
    c.getAuthTag().copy(out, body);
    this.mki.copy(out, body + GCM_TAG);
    return out;
  }

  private openRtp(packet: Buffer, hdr: number, mkiAt: number, ssrc: number, roc: number, seq: number): Buffer {
    const tagAt = mkiAt - GCM_TAG;
    const d = createDecipheriv(this.cipher as 'aes-128-gcm', this.rtp.key, this.gcmIv(this.rtp.salt, ssrc, roc, seq, 2), { authTagLength: GCM_TAG });
    d.setAAD(packet.subarray(0, hdr));
    d.setAuthTag(packet.subarray(tagAt, mkiAt));
    const out = Buffer.allocUnsafe(tagAt);
    packet.copy(out, 0, 0, hdr);
    d.update(packet.subarray(hdr, tagAt)).copy(out, hdr);
    try {
      d.final();
    } catch {
      this.refuse('auth', `SRTP SSRC ${ssrc} seq ${seq}: authentication failed (ROC ${roc})`);
    }
    return out;
  }

  private sealRtcp(packet: Buffer, ssrc: number, index: number): Buffer {
    const body = packet.length;
    const out = Buffer.allocUnsafe(body + GCM_TAG + 4 + this.mki.length);
    packet.copy(out, 0, 0, RTCP_HEADER);
    const eIndex = body + GCM_TAG;
    out.writeUInt32BE((SRTCP_E_BIT | index) >>> 0, eIndex);
    const c = createCipheriv(this.cipher as 'aes-128-gcm', this.rtcp.key, this.gcmIv(this.rtcp.salt, ssrc, 0, index, 4), { authTagLength: GCM_TAG });
    c.setAAD(Buffer.concat([packet.subarray(0, RTCP_HEADER), out.subarray(eIndex, eIndex + 4)]));
    c.update(packet.subarray(RTCP_HEADER)).copy(out, RTCP_HEADER);
    c.final();
    c.getAuthTag().copy(out, body);
    this.mki.copy(out, eIndex + 4);
    return out;
  }

  private openRtcp(packet: Buffer, eIndexAt: number, ssrc: number, index: number, encrypted: boolean): Buffer {
    const tagAt = eIndexAt - GCM_TAG;
    if (tagAt < RTCP_HEADER) fail('too-short', 'SRTCP packet too short for its GCM tag');
    const d = createDecipheriv(this.cipher as 'aes-128-gcm', this.rtcp.key, this.gcmIv(this.rtcp.salt, ssrc, 0, index, 4), { authTagLength: GCM_TAG });
    const eIndex = packet.subarray(eIndexAt, eIndexAt + 4);
    let out: Buffer;
    if (encrypted) {
      d.setAAD(Buffer.concat([packet.subarray(0, RTCP_HEADER), eIndex]));
      d.setAuthTag(packet.subarray(tagAt, eIndexAt));
      out = Buffer.allocUnsafe(tagAt);
      packet.copy(out, 0, 0, RTCP_HEADER);
      d.update(packet.subarray(RTCP_HEADER, tagAt)).copy(out, RTCP_HEADER);
    } else {
      // E = 0: nothing is encrypted; the whole packet and the E/index word are AAD (RFC 7714 §17's second vector).
      d.setAAD(Buffer.concat([packet.subarray(0, tagAt), eIndex]));
      d.setAuthTag(packet.subarray(tagAt, eIndexAt));
      out = Buffer.from(packet.subarray(0, tagAt));
    }
    try {
      d.final();
    } catch {
      this.refuse('auth', `SRTCP SSRC ${ssrc} index ${index}: authentication failed`);
    }
    return out;
  }

  // --- state ------------------------------------------------------------------------------------

  private checkReplay(stream: ReceiveStream | undefined, index: number, what: string): void {
    if (!stream) return;
    const verdict = stream.window.check(index);
    if (verdict === 'seen') this.refuse('replay', `${what}: replayed (index ${index} already received)`);
    if (verdict === 'old') this.refuse('replay', `${what}: index ${index} is older than the ${this.windowSize}-packet replay window`);
  }

  /** Commits an authenticated, fresh packet: its index into the stream's window, and the counters. */
  private accept(streams: Map<number, ReceiveStream>, stream: ReceiveStream | undefined, ssrc: number, index: number): void {
    if (!stream) {
      stream = { window: new ReplayWindow(this.windowSize) };
      streams.set(ssrc, stream);
    }
    stream.window.accept(index);
    this.used++;
    this.stats.unprotected++;
  }

  private checkLifetime(): void {
    if (this.used >= this.lifetime) fail('key-lifetime', `master key lifetime of ${this.lifetime} packets is used up`);
  }

  private checkMki(packet: Buffer, at: number): void {
    if (this.mki.length > 0 && !this.mki.equals(packet.subarray(at, at + this.mki.length))) {
      fail('unknown-mki', `MKI ${packet.subarray(at, at + this.mki.length).toString('hex')} is not this key's (${this.mki.toString('hex')})`);
    }
  }

  /** Counts the refusal in the stats, then throws it. */
  private refuse(code: 'auth' | 'replay', message: string): never {
    if (code === 'auth') this.stats.authFailures++;
    else this.stats.replayed++;
    throw new SrtpError(code, message);
  }

  /**
   * Runs one packet operation so that nothing but an SrtpError leaves it: a relay must not be
   * brought down by a packet. Anything unexpected becomes 'malformed' with an "internal:" message
   * (the fuzz test watches for those).
   */
  private guard<T>(op: () => T, sending: boolean): T {
    try {
      return op();
    } catch (e) {
      if (e instanceof SrtpError) {
        if (e.code !== 'auth' && e.code !== 'replay') this.stats.malformed++;
        throw e;
      }
      this.stats.malformed++;
      throw new SrtpError('malformed', `internal: ${sending ? 'protect' : 'unprotect'} failed: ${(e as Error)?.message ?? String(e)}`);
    }
  }
}

function checkRtcp(packet: Buffer, trailer: number): void {
  if (!Buffer.isBuffer(packet)) fail('malformed', 'packet is not a Buffer');
  if (packet.length < RTCP_HEADER + trailer) {
    fail('too-short', `RTCP packet of ${packet.length} bytes is shorter than a header and ${trailer} bytes of SRTCP trailer`);
  }
  if (packet[0]! >> 6 !== 2) fail('malformed', `RTCP version ${packet[0]! >> 6}, expected 2`);
}

function encodeMki(mki: SrtpKeyParams['mki']): Buffer {
  if (mki === undefined) return Buffer.alloc(0);
  const { value, length } = mki;
  if (!Number.isInteger(length) || length < 1 || length > 128) fail('malformed', `MKI length must be 1..128 bytes, not ${length}`);
  if (!Number.isSafeInteger(value) || value < 0 || (length < 7 && value >= 2 ** (8 * length))) {
    fail('malformed', `MKI value ${value} does not fit in ${length} bytes`);
  }
  const out = Buffer.alloc(length);
  for (let i = length - 1, v = value; i >= 0 && v > 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

/** A fresh random master key and salt for `suite` (crypto-strength random). */
export function generateKeyParams(suite: SrtpSuite): { masterKey: Buffer; masterSalt: Buffer } {
  if (!isSrtpSuite(suite)) fail('malformed', `unknown SRTP suite ${JSON.stringify(suite)}`);
  const info = SRTP_SUITES[suite];
  return { masterKey: randomBytes(info.keyLength), masterSalt: randomBytes(info.saltLength) };
}
