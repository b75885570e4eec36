import { describe, expect, it } from 'vitest';
import { g711LevelDbov } from '../../src/media/relay/rtp.js';
import { linearToAlaw, linearToUlaw, promptFrames, PromptError, readOggOpus, readWav } from '../../src/media/prompts/index.js';

// Reference decoders (ITU-T G.711) to check the encoders against.
function ulawToLinear(u: number): number {
  u = ~u & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}
function alawToLinear(a: number): number {
  a ^= 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  t = seg === 0 ? t + 8 : seg === 1 ? t + 0x108 : (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

describe('G.711 encoders', () => {
  it('round-trip every 16-bit level within the quantisation step', () => {
    for (let x = -32768; x <= 32767; x += 7) {
      const tol = Math.max(16, Math.abs(x) / 16);
      expect(Math.abs(ulawToLinear(linearToUlaw(x)) - x)).toBeLessThanOrEqual(tol + 132);
      expect(Math.abs(alawToLinear(linearToAlaw(x)) - x)).toBeLessThanOrEqual(tol + 16);
    }
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToAlaw(0)).toBe(0xd5);
  });
});

describe('spoken prompts', () => {
  it('the PIN prompt in G.711 is several seconds of audible 20 ms frames', () => {
    for (const codec of ['PCMU', 'PCMA'] as const) {
      const f = promptFrames('enter-pin', codec);
      expect(f.timestampStep).toBe(160);
      expect(f.payloads.length).toBeGreaterThan(150); // > 3 s
      for (const p of f.payloads) expect(p.length).toBe(160);
      const loudest = Math.min(...f.payloads.map((p) => g711LevelDbov(p, codec)));
      expect(loudest, 'speech, not silence').toBeLessThan(30);
    }
  });

  it('the Opus prompt is packets of 20 ms (TOC frame size) from the Ogg file', () => {
    const f = promptFrames('wrong-pin', 'opus');
    expect(f.timestampStep).toBe(960);
    expect(f.payloads.length).toBeGreaterThan(100);
    for (const p of f.payloads.slice(0, 50)) {
      const config = p[0] >> 3;
      // Configs 1, 5, 9, 13, 15, 19, 23, 27, 31 are the 20 ms frame sizes (RFC 6716 3.1).
      expect([1, 5, 9, 13, 15, 19, 23, 27, 31]).toContain(config);
    }
  });

  it('refuses files that are not what they should be', () => {
    expect(() => readWav(Buffer.from('not a wav at all, no'))).toThrow(PromptError);
    expect(() => readOggOpus(Buffer.from('OggS but nothing else follows here......'))).toThrow(PromptError);
  });
});
