/**
 * The few RTP/RTCP facts the SIP media relay needs, read and written in place on Buffers:
 * header fields (RFC 3550 5.1), the one-byte header extension (RFC 8285) for the audio level
 * (RFC 6464), RTCP report blocks for loss and jitter, PLI/FIR (RFC 4585, 5104), RFC 4733
 * telephone events and keyframe detection for H.264 (RFC 6184) and VP8 (RFC 7741).
 */

export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Bytes before the payload (fixed header, CSRCs, extension). */
  headerLength: number;
  /** Bytes of the payload, without padding. */
  payloadLength: number;
}

/** RTP or RTCP on one port (RFC 5761 4): RTCP packet types 192-223 sit where RTP has M+PT. */
export function isRtcp(packet: Buffer): boolean {
  return packet.length >= 8 && (packet[0] >> 6) === 2 && packet[1] >= 192 && packet[1] <= 223;
}

/** undefined when the buffer is not a well-formed RTP packet. */
export function readRtpHeader(p: Buffer): RtpHeader | undefined {
  if (p.length < 12 || (p[0] >> 6) !== 2) return undefined;
  const cc = p[0] & 0x0f;
  let headerLength = 12 + cc * 4;
  if (p[0] & 0x10) {
    if (p.length < headerLength + 4) return undefined;
    headerLength += 4 + p.readUInt16BE(headerLength + 2) * 4;
  }
  let end = p.length;
  if (p[0] & 0x20) {
    const pad = p[p.length - 1];
    if (pad === 0) return undefined;
    end -= pad;
  }
  if (end < headerLength) return undefined;
  return {
    marker: (p[1] & 0x80) !== 0,
    payloadType: p[1] & 0x7f,
    sequence: p.readUInt16BE(2),
    timestamp: p.readUInt32BE(4),
    ssrc: p.readUInt32BE(8),
    headerLength,
    payloadLength: end - headerLength,
  };
}

export function writeRtpFields(p: Buffer, f: { payloadType?: number; sequence?: number; timestamp?: number; ssrc?: number }): void {
  if (f.payloadType !== undefined) p[1] = (p[1] & 0x80) | (f.payloadType & 0x7f);
  if (f.sequence !== undefined) p.writeUInt16BE(f.sequence & 0xffff, 2);
  if (f.timestamp !== undefined) p.writeUInt32BE(f.timestamp >>> 0, 4);
  if (f.ssrc !== undefined) p.writeUInt32BE(f.ssrc >>> 0, 8);
}

/** A minimal RTP packet (no CSRC, optional one-byte extension elements). */
export function buildRtp(o: { payloadType: number; sequence: number; timestamp: number; ssrc: number; marker?: boolean; payload: Buffer; extensions?: Array<{ id: number; data: Buffer }> }): Buffer {
  const ext = o.extensions?.length ? oneByteExtension(o.extensions) : undefined;
  const h = Buffer.alloc(12);
  h[0] = 0x80 | (ext ? 0x10 : 0);
  h[1] = (o.marker ? 0x80 : 0) | (o.payloadType & 0x7f);
  h.writeUInt16BE(o.sequence & 0xffff, 2);
  h.writeUInt32BE(o.timestamp >>> 0, 4);
  h.writeUInt32BE(o.ssrc >>> 0, 8);
  return Buffer.concat(ext ? [h, ext, o.payload] : [h, o.payload]);
}

function oneByteExtension(elements: Array<{ id: number; data: Buffer }>): Buffer {
  const body = Buffer.concat(elements.map((e) => Buffer.concat([Buffer.from([(e.id << 4) | (e.data.length - 1)]), e.data])));
  const words = Math.ceil(body.length / 4);
  const out = Buffer.alloc(4 + words * 4);
  out.writeUInt16BE(0xbede, 0);
  out.writeUInt16BE(words, 2);
  body.copy(out, 4);
  return out;
}

/** The value of a one-byte header extension element (RFC 8285 4.2), if present. */
export function findExtension(p: Buffer, id: number): Buffer | undefined {
  if (!(p[0] & 0x10)) return undefined;
  const start = 12 + (p[0] & 0x0f) * 4;
  if (p.length < start + 4 || p.readUInt16BE(start) !== 0xbede) return undefined;
  const end = start + 4 + p.readUInt16BE(start + 2) * 4;
  let i = start + 4;
  while (i < end && i < p.length) {
    const b = p[i];
    if (b === 0) {
      i++;
      continue;
    }
    const eid = b >> 4;
    const len = (b & 0x0f) + 1;
    if (eid === 15) return undefined;
    if (eid === id) return p.subarray(i + 1, i + 1 + len);
    i += 1 + len;
  }
  return undefined;
}

/**
 * Adds an RFC 6464 audio level element to a packet that has no header extension (packets that
 * already carry one are returned unchanged: the endpoint sends its own level or other data).
 */
export function withAudioLevel(p: Buffer, h: RtpHeader, id: number, levelDbov: number, voice: boolean): Buffer {
  if (p[0] & 0x10) return p;
  const ext = oneByteExtension([{ id, data: Buffer.from([(voice ? 0x80 : 0) | Math.max(0, Math.min(127, Math.round(levelDbov)))]) }]);
  const out = Buffer.concat([p.subarray(0, h.headerLength), ext, p.subarray(h.headerLength)]);
  out[0] |= 0x10;
  return out;
}

// --- G.711 level (for endpoints that send no RFC 6464 level) ---------------------------------

const ULAW = new Int16Array(256);
const ALAW = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  ULAW[i] = u & 0x80 ? 0x84 - t : t - 0x84;
  const a = i ^ 0x55;
  let v = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  v = seg === 0 ? v + 8 : seg === 1 ? v + 0x108 : (v + 0x108) << (seg - 1);
  ALAW[i] = a & 0x80 ? v : -v;
}

/** The level of a G.711 frame in -dBov (0 loudest, 127 silence), as RFC 6464 wants it. */
export function g711LevelDbov(payload: Buffer, law: 'PCMU' | 'PCMA'): number {
  if (payload.length === 0) return 127;
  const table = law === 'PCMU' ? ULAW : ALAW;
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    const s = table[payload[i]];
    sum += s * s;
  }
  const rms = Math.sqrt(sum / payload.length) / 32768;
  if (rms <= 0) return 127;
  return Math.min(127, Math.max(0, Math.round(-20 * Math.log10(rms))));
}

/**
 * A level for an Opus frame without decoding it: Opus in VBR (what endpoints send by default)
 * spends bytes where there is signal, so a 20 ms frame of a few bytes is silence (or DTX) and
 * one of dozens of bytes is someone talking. Coarse, but enough for talking/not talking, which
 * is all the speaker switch uses. Frames of other durations are scaled to 20 ms.
 */
export function opusLevelEstimate(payload: Buffer): number {
  if (payload.length === 0) return 127;
  const config = payload[0] >> 3;
  // RFC 6716 3.1: frame size of the configuration (ms); code 1-3 packets carry 2+ frames.
  const sizes = [10, 20, 40, 60];
  const ms = config < 12 ? sizes[config & 3] : config < 16 ? (config & 1 ? 20 : 10) : [2.5, 5, 10, 20][config & 3];
  const frames = (payload[0] & 3) === 0 ? 1 : (payload[0] & 3) === 3 && payload.length > 1 ? payload[1] & 0x3f || 1 : 2;
  const bytesPer20ms = (payload.length * 20) / (ms * frames);
  if (bytesPer20ms < 12) return 127;
  if (bytesPer20ms < 24) return 60;
  return Math.max(10, Math.round(45 - bytesPer20ms / 4));
}

// --- RFC 4733 telephone events ----------------------------------------------------------------

export interface TelephoneEvent {
  /** 0-9, *, #, A-D (events 0-15). */
  digit: string;
  end: boolean;
  duration: number;
}

const DIGITS = '0123456789*#ABCD';

export function readTelephoneEvent(payload: Buffer): TelephoneEvent | undefined {
  if (payload.length < 4 || payload[0] > 15) return undefined;
  return { digit: DIGITS[payload[0]], end: (payload[1] & 0x80) !== 0, duration: payload.readUInt16BE(2) };
}

// --- Keyframes ----------------------------------------------------------------------------------

/** Whether this packet starts a keyframe: H.264 IDR/SPS (single NAL, STAP-A, FU-A start) or a VP8 key frame. */
export function isKeyframeStart(codec: 'H264' | 'VP8', payload: Buffer): boolean {
  if (payload.length < 2) return false;
  if (codec === 'H264') {
    const type = payload[0] & 0x1f;
    if (type === 5 || type === 7) return true;
    if (type === 24) {
      // STAP-A: 16-bit sizes, then NAL units.
      let i = 1;
      while (i + 2 < payload.length) {
        const size = payload.readUInt16BE(i);
        const nal = payload[i + 2] & 0x1f;
        if (nal === 5 || nal === 7) return true;
        i += 2 + size;
      }
      return false;
    }
    if (type === 28) return (payload[1] & 0x80) !== 0 && ((payload[1] & 0x1f) === 5 || (payload[1] & 0x1f) === 7);
    return false;
  }
  // VP8 payload descriptor (RFC 7741 4.2), then the VP8 header's P bit (0 = key frame).
  let i = 0;
  const x = payload[i] & 0x80;
  const s = payload[i] & 0x10;
  const pid = payload[i] & 0x07;
  i++;
  if (x) {
    if (i >= payload.length) return false;
    const ext = payload[i++];
    if (ext & 0x80) i += i < payload.length && payload[i] & 0x80 ? 2 : 1;
    if (ext & 0x40) i++;
    if (ext & 0x30) i++;
  }
  if (!s || pid !== 0 || i >= payload.length) return false;
  return (payload[i] & 0x01) === 0;
}

// --- RTCP -----------------------------------------------------------------------------------------

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  highestSequence: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
}

export interface RtcpSummary {
  senderSsrc?: number;
  /** Reports about the streams we send. */
  reports: ReportBlock[];
  /** Feedback asking for a keyframe of a stream we send (PLI or FIR). */
  keyframeRequested: boolean;
  senderPackets?: number;
}

/** Reads a compound RTCP packet (already decrypted). Malformed parts end the walk quietly. */
export function readRtcp(p: Buffer): RtcpSummary {
  const out: RtcpSummary = { reports: [], keyframeRequested: false };
  let i = 0;
  while (i + 4 <= p.length) {
    if (p[i] >> 6 !== 2) break;
    const count = p[i] & 0x1f;
    const type = p[i + 1];
    const len = (p.readUInt16BE(i + 2) + 1) * 4;
    if (i + len > p.length) break;
    if ((type === 200 || type === 201) && len >= 8) {
      out.senderSsrc ??= p.readUInt32BE(i + 4);
      let b = i + (type === 200 ? 28 : 8);
      if (type === 200 && len >= 28) out.senderPackets = p.readUInt32BE(i + 20);
      for (let k = 0; k < count && b + 24 <= i + len; k++, b += 24) {
        const lost = p.readUInt32BE(b + 4) & 0xffffff;
        out.reports.push({
          ssrc: p.readUInt32BE(b),
          fractionLost: p[b + 4] / 256,
          cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
          highestSequence: p.readUInt32BE(b + 8),
          jitter: p.readUInt32BE(b + 12),
        });
      }
    } else if ((type === 206 && (count === 1 || count === 4)) || (type === 192)) {
      out.keyframeRequested = true;
    }
    i += len;
  }
  return out;
}

/** RTCP PLI (RFC 4585 6.3.1) from senderSsrc about mediaSsrc. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x81;
  b[1] = 206;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  return b;
}

/** RTCP FIR (RFC 5104 4.3.1), for endpoints that answered `ccm fir` and ignore PLI. */
export function buildFir(senderSsrc: number, mediaSsrc: number, seq: number): Buffer {
  const b = Buffer.alloc(20);
  b[0] = 0x84;
  b[1] = 206;
  b.writeUInt16BE(4, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(0, 8);
  b.writeUInt32BE(mediaSsrc >>> 0, 12);
  b[16] = seq & 0xff;
  return b;
}

/**
 * A sender report (RFC 3550 6.4.1) with one report block about what we receive, so endpoints
 * that watch RTCP for liveness (and their own quality statistics) see a live peer.
 */
export function buildSenderReport(o: {
  ssrc: number;
  ntpMs: number;
  rtpTimestamp: number;
  packets: number;
  octets: number;
  report?: ReportBlock;
}): Buffer {
  const blocks = o.report ? 1 : 0;
  const b = Buffer.alloc(28 + blocks * 24);
  b[0] = 0x80 | blocks;
  b[1] = 200;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(o.ssrc >>> 0, 4);
  const seconds = Math.floor(o.ntpMs / 1000) + 2_208_988_800;
  b.writeUInt32BE(seconds >>> 0, 8);
  b.writeUInt32BE(Math.floor(((o.ntpMs % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(o.rtpTimestamp >>> 0, 16);
  b.writeUInt32BE(o.packets >>> 0, 20);
  b.writeUInt32BE(o.octets >>> 0, 24);
  if (o.report) {
    const r = o.report;
    b.writeUInt32BE(r.ssrc >>> 0, 28);
    b[32] = Math.max(0, Math.min(255, Math.round(r.fractionLost * 256)));
    b.writeUIntBE(Math.max(0, Math.min(0x7fffff, r.cumulativeLost)), 33, 3);
    b.writeUInt32BE(r.highestSequence >>> 0, 36);
    b.writeUInt32BE(r.jitter >>> 0, 40);
  }
  return b;
}
