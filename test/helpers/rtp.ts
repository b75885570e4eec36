/**
 * RTP for tests that feed real media into Janus from plain UDP sockets: packet build/parse
 * (RFC 3550, with an RFC 8285 one-byte header extension for the RFC 6464 audio level),
 * a G.711 µ-law encoder/decoder and tone generator, a minimal RTCP PLI, and a tiny VP8
 * keyframe payload.
 */
import dgram from 'node:dgram';

export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  /** One-byte header extensions (RFC 8285) by id. */
  extensions?: Map<number, Buffer>;
}

export function buildRtp(p: RtpPacket): Buffer {
  let ext = Buffer.alloc(0);
  if (p.extensions?.size) {
    const items = [...p.extensions].map(([id, data]) => Buffer.concat([Buffer.from([(id << 4) | (data.length - 1)]), data]));
    let body = Buffer.concat(items);
    if (body.length % 4) body = Buffer.concat([body, Buffer.alloc(4 - (body.length % 4))]);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(0xbede, 0);
    head.writeUInt16BE(body.length / 4, 2);
    ext = Buffer.concat([head, body]);
  }
  const h = Buffer.alloc(12);
  h[0] = 0x80 | (ext.length ? 0x10 : 0);
  h[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  h.writeUInt16BE(p.sequence & 0xffff, 2);
  h.writeUInt32BE(p.timestamp >>> 0, 4);
  h.writeUInt32BE(p.ssrc >>> 0, 8);
  return Buffer.concat([h, ext, p.payload]);
}

/** Parses an RTP packet; undefined for anything that is not RTP version 2 (or is RTCP). */
export function parseRtp(buf: Buffer): RtpPacket | undefined {
  if (buf.length < 12 || buf[0] >> 6 !== 2) return undefined;
  const pt = buf[1] & 0x7f;
  if (pt >= 72 && pt <= 79) return undefined; // RTCP (RFC 5761)
  const cc = buf[0] & 0x0f;
  let off = 12 + cc * 4;
  const extensions = new Map<number, Buffer>();
  if (buf[0] & 0x10) {
    if (buf.length < off + 4) return undefined;
    const profile = buf.readUInt16BE(off);
    const words = buf.readUInt16BE(off + 2);
    const end = off + 4 + words * 4;
    if (profile === 0xbede) {
      let i = off + 4;
      while (i < end) {
        const b = buf[i];
        if (b === 0) {
          i++;
          continue;
        }
        const id = b >> 4;
        const len = (b & 0x0f) + 1;
        if (id === 15) break;
        extensions.set(id, buf.subarray(i + 1, i + 1 + len));
        i += 1 + len;
      }
    }
    off = end;
  }
  let endPayload = buf.length;
  if (buf[0] & 0x20) endPayload -= buf[buf.length - 1];
  if (off > endPayload) return undefined;
  return {
    payloadType: pt,
    marker: (buf[1] & 0x80) !== 0,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(off, endPayload),
    ...(extensions.size ? { extensions } : {}),
  };
}

/** True for an RTCP packet (payload type field 192..223 with the marker bit). */
export function isRtcp(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0] >> 6 === 2 && buf[1] >= 192 && buf[1] <= 223;
}

/** RTCP PSFB PLI (RFC 4585 6.3.1): sender SSRC, media SSRC. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x81; // V=2, FMT=1
  b[1] = 206;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  return b;
}

/** The PLIs in a (compound) RTCP packet, as their media SSRCs. */
export function pliMediaSsrcs(buf: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    if (buf[off] >> 6 !== 2) break;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (buf[off + 1] === 206 && (buf[off] & 0x1f) === 1 && off + 12 <= buf.length) out.push(buf.readUInt32BE(off + 8));
    off += len;
  }
  return out;
}

// --- G.711 µ-law (ITU-T G.711, the classic Sun reference algorithm) ---

const BIAS = 0x84;
const CLIP = 32635;

export function linearToUlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(u: number): number {
  const x = ~u & 0xff;
  const sign = x & 0x80;
  const exponent = (x >> 4) & 0x07;
  const mantissa = x & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return sign ? -magnitude : magnitude;
}

/** `samples` µ-law bytes of a sine tone at 8 kHz, continuing from sample index `start`. */
export function ulawTone(freqHz: number, samples: number, start = 0, amplitude = 8000): Buffer {
  const b = Buffer.alloc(samples);
  for (let i = 0; i < samples; i++) b[i] = linearToUlaw(amplitude * Math.sin((2 * Math.PI * freqHz * (start + i)) / 8000));
  return b;
}

/** Root-mean-square level of µ-law audio (0 for digital silence). */
export function ulawRms(payload: Buffer): number {
  if (payload.length === 0) return 0;
  let sum = 0;
  for (const u of payload) {
    const v = ulawToLinear(u);
    sum += v * v;
  }
  return Math.sqrt(sum / payload.length);
}

/** The dominant frequency among `candidates` (Goertzel power), for telling two tones apart. */
export function ulawDominant(payload: Buffer, candidates: number[]): number {
  const pcm = [...payload].map(ulawToLinear);
  let best = candidates[0];
  let bestPower = -1;
  for (const f of candidates) {
    const k = (2 * Math.PI * f) / 8000;
    let s1 = 0;
    let s2 = 0;
    for (const x of pcm) {
      const s0 = x + 2 * Math.cos(k) * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - 2 * Math.cos(k) * s1 * s2;
    if (power > bestPower) {
      bestPower = power;
      best = f;
    }
  }
  return best;
}

/**
 * A VP8 RTP payload carrying a complete (tiny) keyframe: the 1-byte VP8 payload descriptor
 * (S=1, partition 0) and a frame that starts with a keyframe header (RFC 6386 9.1: frame tag
 * with key_frame=0, start code 9d 01 2a, 16x16). Janus only looks at the headers to detect
 * keyframes; the bytes after them are not decoded here.
 */
export function vp8KeyframePayload(): Buffer {
  const frame = Buffer.alloc(40, 0);
  const firstPartSize = 20;
  // frame tag: key_frame (bit 0) = 0, version 0, show_frame 1, first_part_size (19 bits)
  const tag = 0 | (0 << 1) | (1 << 4) | (firstPartSize << 5);
  frame[0] = tag & 0xff;
  frame[1] = (tag >> 8) & 0xff;
  frame[2] = (tag >> 16) & 0xff;
  frame.set([0x9d, 0x01, 0x2a], 3);
  frame.writeUInt16LE(16, 6);
  frame.writeUInt16LE(16, 8);
  return Buffer.concat([Buffer.from([0x10]), frame]);
}

/** A bound UDP socket on 127.0.0.1 that keeps what it receives. */
export class UdpPeer {
  readonly received: Array<{ data: Buffer; from: { address: string; port: number } }> = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => {
      this.received.push({ data, from: { address: rinfo.address, port: rinfo.port } });
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    });
    // ICMP port unreachable from a closed Janus port shows up as an error: ignore.
    socket.on('error', () => {});
  }

  static async bind(port = 0): Promise<UdpPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return new UdpPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve) => this.socket.send(data, port, host, () => resolve()));
  }

  /** Waits until a received datagram satisfies `pred` (or fails after `ms`). */
  async waitFor(pred: (d: Buffer, from: { address: string; port: number }) => boolean, ms: number, what: string): Promise<Buffer> {
    const deadline = Date.now() + ms;
    let seen = 0;
    for (;;) {
      for (; seen < this.received.length; seen++) {
        const r = this.received[seen];
        if (pred(r.data, r.from)) return r.data;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms (${this.received.length} datagrams seen)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Sends a stream of packets every `intervalMs` until stopped. */
export function pace(intervalMs: number, tick: (n: number) => void | Promise<void>): { stop: () => void } {
  let n = 0;
  const t = setInterval(() => void tick(n++), intervalMs);
  return { stop: () => clearInterval(t) };
}
