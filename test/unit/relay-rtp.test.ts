import { describe, expect, it } from 'vitest';
import { ReceiveStats } from '../../src/media/relay/receive-stats.js';
import {
  buildFir,
  buildPli,
  buildRtp,
  buildSenderReport,
  findExtension,
  g711LevelDbov,
  isKeyframeStart,
  isRtcp,
  readRtcp,
  readRtpHeader,
  readTelephoneEvent,
  withAudioLevel,
  writeRtpFields,
} from '../../src/media/relay/rtp.js';

describe('RTP header', () => {
  it('reads and rewrites the fields, with CSRCs, extension and padding', () => {
    const p = buildRtp({ payloadType: 96, sequence: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef, marker: true, payload: Buffer.from('abcd'), extensions: [{ id: 1, data: Buffer.from([0x85]) }] });
    const h = readRtpHeader(p)!;
    expect(h).toMatchObject({ marker: true, payloadType: 96, sequence: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef, headerLength: 20, payloadLength: 4 });
    expect(findExtension(p, 1)).toEqual(Buffer.from([0x85]));
    expect(findExtension(p, 2)).toBeUndefined();
    writeRtpFields(p, { payloadType: 100, sequence: 7, timestamp: 9, ssrc: 1 });
    expect(readRtpHeader(p)).toMatchObject({ marker: true, payloadType: 100, sequence: 7, timestamp: 9, ssrc: 1 });

    const withCsrcAndPadding = Buffer.concat([Buffer.from([0xa1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]), Buffer.from('xyz'), Buffer.from([0, 0, 3])]);
    expect(readRtpHeader(withCsrcAndPadding)).toMatchObject({ headerLength: 16, payloadLength: 3 });
  });

  it('refuses what is not RTP and tells RTCP apart (RFC 5761)', () => {
    expect(readRtpHeader(Buffer.alloc(11))).toBeUndefined();
    expect(readRtpHeader(Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
    expect(readRtpHeader(Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined(); // padding 0
    expect(readRtpHeader(Buffer.from([0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9]))).toBeUndefined(); // extension past the end
    expect(isRtcp(buildPli(1, 2))).toBe(true);
    expect(isRtcp(buildRtp({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1, payload: Buffer.alloc(160) }))).toBe(false);
  });

  it('adds an RFC 6464 level to a packet without extensions, keeps the payload', () => {
    const p = buildRtp({ payloadType: 0, sequence: 1, timestamp: 160, ssrc: 5, payload: Buffer.alloc(160, 0xff) });
    const out = withAudioLevel(p, readRtpHeader(p)!, 3, 42, true);
    const h = readRtpHeader(out)!;
    expect(findExtension(out, 3)).toEqual(Buffer.from([0x80 | 42]));
    expect(out.subarray(h.headerLength)).toEqual(Buffer.alloc(160, 0xff));
    expect(withAudioLevel(out, h, 3, 10, true)).toBe(out);
  });
});

describe('G.711 level', () => {
  it('silence is 127 -dBov, a full-scale tone is near 0, a quieter one in between', () => {
    expect(g711LevelDbov(Buffer.alloc(160, 0xff), 'PCMU')).toBeGreaterThan(70);
    expect(g711LevelDbov(Buffer.alloc(160, 0xd5), 'PCMA')).toBeGreaterThan(60);
    const loud = Buffer.alloc(160);
    const quiet = Buffer.alloc(160);
    for (let i = 0; i < 160; i++) {
      loud[i] = i % 2 ? 0x80 : 0x00; // µ-law extremes: ±32124
      quiet[i] = i % 2 ? 0xe0 : 0x60;
    }
    const l = g711LevelDbov(loud, 'PCMU');
    const q = g711LevelDbov(quiet, 'PCMU');
    expect(l).toBeLessThan(2);
    expect(q).toBeGreaterThan(l + 10);
    expect(q).toBeLessThan(60);
  });
});

describe('telephone events and keyframes', () => {
  it('reads RFC 4733 events', () => {
    expect(readTelephoneEvent(Buffer.from([11, 0x8a, 0x03, 0x20]))).toEqual({ digit: '#', end: true, duration: 800 });
    expect(readTelephoneEvent(Buffer.from([5, 0x0a, 0x00, 0xa0]))).toEqual({ digit: '5', end: false, duration: 160 });
    expect(readTelephoneEvent(Buffer.from([16, 0, 0, 0]))).toBeUndefined();
    expect(readTelephoneEvent(Buffer.from([1, 0]))).toBeUndefined();
  });

  it('finds H.264 IDR/SPS starts (single NAL, STAP-A, FU-A) and VP8 key frames', () => {
    expect(isKeyframeStart('H264', Buffer.from([0x67, 0x42]))).toBe(true); // SPS
    expect(isKeyframeStart('H264', Buffer.from([0x65, 0x88]))).toBe(true); // IDR
    expect(isKeyframeStart('H264', Buffer.from([0x41, 0x9a]))).toBe(false); // P slice
    expect(isKeyframeStart('H264', Buffer.from([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce]))).toBe(true); // STAP-A SPS+PPS
    expect(isKeyframeStart('H264', Buffer.from([0x7c, 0x85, 0x00]))).toBe(true); // FU-A start of IDR
    expect(isKeyframeStart('H264', Buffer.from([0x7c, 0x05, 0x00]))).toBe(false); // FU-A middle
    expect(isKeyframeStart('VP8', Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a]))).toBe(true); // S=1, PID 0, P=0
    expect(isKeyframeStart('VP8', Buffer.from([0x10, 0x01]))).toBe(false); // inter frame
    expect(isKeyframeStart('VP8', Buffer.from([0x90, 0x80, 0x81, 0x23, 0x00]))).toBe(true); // X, 15-bit PictureID
    expect(isKeyframeStart('VP8', Buffer.from([0x00, 0x00]))).toBe(false); // not the start of a partition
  });
});

describe('RTCP', () => {
  it('reads the report block of a sender report we built, and PLI/FIR as keyframe requests', () => {
    const sr = buildSenderReport({ ssrc: 9, ntpMs: Date.now(), rtpTimestamp: 1234, packets: 100, octets: 16000, report: { ssrc: 77, fractionLost: 0.25, cumulativeLost: 12, highestSequence: 70000, jitter: 40 } });
    const r = readRtcp(sr);
    expect(r.senderSsrc).toBe(9);
    expect(r.senderPackets).toBe(100);
    expect(r.reports).toEqual([{ ssrc: 77, fractionLost: 0.25, cumulativeLost: 12, highestSequence: 70000, jitter: 40 }]);
    expect(r.keyframeRequested).toBe(false);
    expect(readRtcp(Buffer.concat([sr, buildPli(1, 2)])).keyframeRequested).toBe(true);
    expect(readRtcp(buildFir(1, 2, 3)).keyframeRequested).toBe(true);
    expect(readRtcp(Buffer.from([0x81, 200, 0, 50])).reports).toEqual([]); // length past the end
  });
});

describe('receive statistics (RFC 3550 A.3, A.8)', () => {
  it('counts loss across a sequence wrap and measures jitter', () => {
    const s = new ReceiveStats(8000);
    let t = 0;
    let ts = 1000;
    for (let seq = 65500; seq < 65500 + 100; seq++) {
      t += 20;
      ts += 160;
      if (seq % 10 === 3) continue; // 10 % loss
      s.update(42, seq & 0xffff, ts, 172, t + (seq % 2 ? 5 : 0));
    }
    expect(s.expected).toBe(100);
    expect(s.lost).toBe(10);
    expect(s.jitterMs).toBeGreaterThan(1);
    expect(s.jitterMs).toBeLessThan(6);
    const block = s.reportBlock()!;
    expect(block.ssrc).toBe(42);
    expect(block.fractionLost).toBeCloseTo(0.1, 2);
    expect(block.highestSequence).toBe(65536 + ((65500 + 99) & 0xffff));
    // Nothing new since: the next interval reports no loss.
    expect(s.reportBlock()!.fractionLost).toBe(0);
  });

  it('starts over for a new SSRC', () => {
    const s = new ReceiveStats(90000);
    s.update(1, 10, 0, 100, 0);
    s.update(1, 20, 0, 100, 10);
    expect(s.lost).toBe(9);
    s.update(2, 500, 0, 100, 20);
    expect(s.lost).toBe(0);
    expect(s.source).toBe(2);
  });
});

describe('Opus level estimate (no decoder: VBR bytes per 20 ms)', () => {
  it('calls tiny frames silence and large frames talking', async () => {
    const { opusLevelEstimate } = await import('../../src/media/relay/rtp.js');
    const toc20ms = (0x0f << 3) | 0; // SILK/CELT hybrid FB 20 ms, one frame
    expect(opusLevelEstimate(Buffer.from([toc20ms, 1, 2]))).toBe(127);
    expect(opusLevelEstimate(Buffer.concat([Buffer.from([toc20ms]), Buffer.alloc(15)]))).toBe(60);
    const talking = opusLevelEstimate(Buffer.concat([Buffer.from([toc20ms]), Buffer.alloc(80)]));
    expect(talking).toBeLessThan(50);
    // Two 10 ms frames of 40 bytes each are as loud as one 20 ms frame of 80.
    const toc10msTwo = (((0x0e << 3) | 1) & 0xff) as number;
    expect(opusLevelEstimate(Buffer.concat([Buffer.from([toc10msTwo]), Buffer.alloc(80)]))).toBeLessThan(50);
    expect(opusLevelEstimate(Buffer.alloc(0))).toBe(127);
  });
});
