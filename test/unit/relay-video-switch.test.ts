/**
 * The room's voice-switched video over real loopback UDP: packets of two "publishers" come in
 * on the switch's socket as Janus's forwarders send them; an endpoint sees one continuous
 * stream of the latest speaker other than itself, switched at a keyframe only.
 */
import dgram from 'node:dgram';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRtp, readRtpHeader } from '../../src/media/relay/rtp.js';
import { RoomVideoSwitch } from '../../src/media/relay/video-switch.js';

const log = pino({ level: 'silent' });
const KEY = Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a]); // VP8 descriptor S=1 + key frame
const DELTA = Buffer.from([0x10, 0x01, 0x00]);

let sw: RoomVideoSwitch | undefined;
const senders: dgram.Socket[] = [];
afterEach(() => {
  sw?.close();
  for (const s of senders.splice(0)) s.close();
});

async function setup() {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const asked: number[] = [];
  sw = new RoomVideoSwitch(sock, (feedId) => asked.push(feedId), log);
  const tx = dgram.createSocket('udp4');
  senders.push(tx);
  const seq: Record<number, number> = { 111: 100, 222: 30000 };
  const ts: Record<number, number> = { 111: 5000, 222: 900000 };
  const send = (ssrc: number, payload: Buffer) => {
    seq[ssrc]++;
    ts[ssrc] += 3000;
    tx.send(buildRtp({ payloadType: 100, sequence: seq[ssrc], timestamp: ts[ssrc], ssrc, payload }), sw!.port, '127.0.0.1');
  };
  return { asked, send };
}

const tick = () => new Promise((r) => setTimeout(r, 30));

describe('RoomVideoSwitch', () => {
  it('shows the latest other speaker, switches at a keyframe with continuous numbering, never the endpoint itself', async () => {
    const { asked, send } = await setup();
    sw!.setStreams([
      { feedId: 1, ssrc: 111, codec: 'VP8' },
      { feedId: 2, ssrc: 222, codec: 'VP8' },
    ]);
    const got: Array<{ seq: number; ts: number; from: number }> = [];
    // The endpoint is feed 3 (a SIP remote publisher); it has no stream of its own in the tap here.
    sw!.subscribe({ ownFeedId: 3, codec: 'VP8', send: (p) => got.push({ seq: readRtpHeader(p)!.sequence, ts: readRtpHeader(p)!.timestamp, from: p[12] === KEY[0] && p[13] === 0 ? 1 : 0 }) });
    expect(asked).toEqual([1]); // nobody talked yet: the first feed, a keyframe asked for

    // Deltas before a keyframe are not shown (the decoder could not use them).
    send(111, DELTA);
    await tick();
    expect(got).toHaveLength(0);
    send(111, KEY);
    send(111, DELTA);
    send(222, KEY); // feed 2 is not selected: ignored
    await tick();
    expect(got).toHaveLength(2);
    expect(got[1].seq).toBe((got[0].seq + 1) & 0xffff);

    // Feed 2 talks: a keyframe is requested; its deltas are not shown until its keyframe arrives.
    await new Promise((r) => setTimeout(r, 1600)); // past the hold time
    sw!.talking(2);
    expect(asked.at(-1)).toBe(2);
    send(222, DELTA);
    send(111, DELTA);
    await tick();
    expect(got).toHaveLength(3); // still feed 1
    send(222, KEY);
    send(222, DELTA);
    send(111, DELTA);
    await tick();
    expect(got).toHaveLength(5);
    for (let i = 1; i < got.length; i++) expect(got[i].seq, 'sequence numbers continue across the switch').toBe((got[i - 1].seq + 1) & 0xffff);
    expect(got[3].ts - got[2].ts).toBe(3000); // one frame step, not the other publisher's clock
  }, 10_000);

  it('an endpoint never sees itself; codecs must match', async () => {
    const { send } = await setup();
    sw!.setStreams([
      { feedId: 1, ssrc: 111, codec: 'VP8' },
      { feedId: 2, ssrc: 222, codec: 'H264' },
    ]);
    expect(sw!.choose(1, 'VP8')).toBeUndefined(); // the only VP8 stream is its own
    expect(sw!.choose(1, 'H264')).toBe(2);
    const got: Buffer[] = [];
    sw!.subscribe({ ownFeedId: 1, codec: 'VP8', send: (p) => got.push(p) });
    send(111, KEY);
    await tick();
    expect(got).toHaveLength(0);
    sw!.talking(1);
    expect(sw!.choose(1, 'VP8')).toBeUndefined();
  });
});
