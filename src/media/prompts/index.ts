/**
 * Spoken prompts for SIP callers ("enter the meeting PIN followed by the hash key"), ready to
 * send as 20 ms RTP payloads in the codec the call negotiated. Each prompt ships twice, made
 * once with espeak-ng and opusenc (Debian packages): an 8 kHz 16-bit WAV that is encoded to
 * G.711 here, and an Ogg Opus file whose packets go out as they are (no Opus encoder needed
 * at run time).
 */
import { readFileSync } from 'node:fs';

export type PromptName = 'enter-pin' | 'wrong-pin';
export type PromptCodec = 'PCMU' | 'PCMA' | 'opus';

export class PromptError extends Error {
  override name = 'PromptError';
}

const DIR = new URL('../../../src/media/prompts/', import.meta.url);

/** G.711 µ-law (ITU-T G.711, with the usual bias of 0x84). */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, sample | 0));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** G.711 A-law. */
export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, sample | 0));
  const sign = s >= 0 ? 0x80 : 0;
  if (s < 0) s = -s - 1;
  s >>= 3;
  let exponent = 0;
  let v = s;
  if (v >= 0x20) {
    exponent = 1;
    while (v >= 0x40 && exponent < 7) {
      v >>= 1;
      exponent++;
    }
  }
  const mantissa = exponent === 0 ? (s >> 1) & 0x0f : (v >> 1) & 0x0f;
  return ((sign | (exponent << 4) | mantissa) ^ 0x55) & 0xff;
}

/** The samples of a mono 16-bit PCM WAV. */
export function readWav(b: Buffer): { rate: number; samples: Int16Array } {
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new PromptError('not a WAV file');
  let off = 12;
  let rate = 0;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      if (b.readUInt16LE(off + 8) !== 1 || b.readUInt16LE(off + 10) !== 1 || b.readUInt16LE(off + 22) !== 16) throw new PromptError('the WAV must be mono 16-bit PCM');
      rate = b.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const data = b.subarray(off + 8, Math.min(b.length, off + 8 + len));
      const samples = new Int16Array(data.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
      return { rate, samples };
    }
    off += 8 + len + (len & 1);
  }
  throw new PromptError('the WAV has no data chunk');
}

/** The Opus packets of an Ogg Opus file (RFC 7845), without the two header packets. */
export function readOggOpus(b: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let off = 0;
  while (off + 27 <= b.length) {
    if (b.toString('ascii', off, off + 4) !== 'OggS') throw new PromptError(`no Ogg page at byte ${off}`);
    const segments = b[off + 26];
    const table = b.subarray(off + 27, off + 27 + segments);
    let p = off + 27 + segments;
    for (const len of table) {
      partial.push(b.subarray(p, p + len));
      p += len;
      // A lacing value under 255 ends a packet; 255 continues it in the next segment.
      if (len < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    off = p;
  }
  const [head, tags, ...audio] = packets;
  if (!head || head.toString('ascii', 0, 8) !== 'OpusHead' || !tags || tags.toString('ascii', 0, 8) !== 'OpusTags') throw new PromptError('not an Ogg Opus stream');
  return audio;
}

export interface PromptFrames {
  /** One RTP payload per 20 ms. */
  payloads: Buffer[];
  /** RTP timestamp step per payload (the codec's clock). */
  timestampStep: number;
}

const cache = new Map<string, PromptFrames>();

/** The prompt as 20 ms payloads in the codec (cached). */
export function promptFrames(name: PromptName, codec: PromptCodec): PromptFrames {
  const key = `${name}/${codec}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let frames: PromptFrames;
  if (codec === 'opus') {
    frames = { payloads: readOggOpus(readFileSync(new URL(`${name}.opus`, DIR))), timestampStep: 960 };
  } else {
    const { rate, samples } = readWav(readFileSync(new URL(`${name}.wav`, DIR)));
    if (rate !== 8000) throw new PromptError(`${name}.wav must be 8 kHz for G.711 (is ${rate} Hz)`);
    const encode = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
    const payloads: Buffer[] = [];
    for (let i = 0; i < samples.length; i += 160) {
      const frame = Buffer.alloc(160, codec === 'PCMU' ? 0xff : 0xd5);
      for (let j = 0; j < 160 && i + j < samples.length; j++) frame[j] = encode(samples[i + j]);
      payloads.push(frame);
    }
    frames = { payloads, timestampStep: 160 };
  }
  cache.set(key, frames);
  return frames;
}
