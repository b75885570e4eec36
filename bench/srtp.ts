/**
 * `npm run bench -- srtp`: SRTP relay throughput of src/media/srtp, per suite: unprotect an
 * SRTP packet with a 1,200-byte payload and protect the RTP result again under another key, as
 * knude's relay does for every media packet of a SIP video endpoint. The baseline is werift's
 * SrtpSession doing the same (decrypt, parse, encrypt) for AES_CM_128_HMAC_SHA1_80, measured in
 * the same run. Medians of ROUNDS rounds; each round runs fresh contexts over the same packets
 * (a context would refuse them the second time as replays).
 */
import { RtpPacket, SrtpSession, ProtectionProfileAes128CmHmacSha1_80 } from 'werift';
import { SRTP_SUITES, SrtpContext, generateKeyParams, type SrtpSuite } from '../src/media/srtp/index.js';
import { median } from './_stats.js';
import type { BenchResult } from './types.js';

const PACKETS = 2_000;
const PAYLOAD = 1_200;
const ROUNDS = 7;
/** Passes over the packets per round: enough that one round takes a few hundred ms. */
const PASSES = 5;

function rtpPackets(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < PACKETS; i++) {
    const p = Buffer.alloc(12 + PAYLOAD, i & 0xff);
    p[0] = 0x80;
    p[1] = 96;
    p.writeUInt16BE((60_000 + i) % 65_536, 2); // crosses a sequence wrap
    p.writeUInt32BE(i * 3000, 4);
    p.writeUInt32BE(0x1234_5678, 8);
    out.push(p);
  }
  return out;
}

/** Packets/s of `relay` over the packets, timed over PASSES passes each with a fresh relay. */
function measure(makeRelay: () => (srtp: Buffer) => Buffer, srtp: Buffer[]): number {
  let bytes = 0;
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < PASSES; pass++) {
    const relay = makeRelay();
    for (const p of srtp) bytes += relay(p).length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (bytes === 0) throw new Error('relay produced nothing');
  return (PASSES * srtp.length) / seconds;
}

interface Case {
  name: string;
  makeRelay: () => (srtp: Buffer) => Buffer;
  srtp: Buffer[];
}

function knudeCase(suite: SrtpSuite, plain: Buffer[]): Case {
  const inKey = generateKeyParams(suite);
  const outKey = generateKeyParams(suite);
  const sender = new SrtpContext({ suite, ...inKey });
  const srtp = plain.map((p) => sender.protectRtp(p));
  const makeRelay = () => {
    const rx = new SrtpContext({ suite, ...inKey });
    const tx = new SrtpContext({ suite, ...outKey });
    return (p: Buffer) => tx.protectRtp(rx.unprotectRtp(p));
  };
  const check = makeRelay();
  const back = new SrtpContext({ suite, ...outKey });
  if (!back.unprotectRtp(check(srtp[0]!)).equals(plain[0]!)) throw new Error(`${suite}: relay output does not round-trip`);
  return { name: `knude ${suite}`, makeRelay, srtp };
}

function weriftCase(plain: Buffer[]): Case {
  const suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';
  const inKey = generateKeyParams(suite);
  const outKey = generateKeyParams(suite);
  const sender = new SrtpContext({ suite, ...inKey });
  const srtp = plain.map((p) => sender.protectRtp(p));
  const makeRelay = () => {
    const session = new SrtpSession({
      profile: ProtectionProfileAes128CmHmacSha1_80,
      keys: { localMasterKey: outKey.masterKey, localMasterSalt: outKey.masterSalt, remoteMasterKey: inKey.masterKey, remoteMasterSalt: inKey.masterSalt },
    });
    return (p: Buffer) => {
      const rtp = RtpPacket.deSerialize(session.decrypt(p));
      return session.encrypt(rtp.payload, rtp.header);
    };
  };
  // Same bytes on the wire: what werift relays, our context reads.
  const back = new SrtpContext({ suite, ...outKey });
  if (!back.unprotectRtp(makeRelay()(srtp[0]!)).equals(plain[0]!)) throw new Error('werift relay output does not round-trip through knude');
  return { name: `werift ${suite}`, makeRelay, srtp };
}

export async function run(): Promise<BenchResult> {
  const plain = rtpPackets();
  const cases: Case[] = [weriftCase(plain), ...(Object.keys(SRTP_SUITES) as SrtpSuite[]).map((s) => knudeCase(s, plain))];
  for (const c of cases) measure(c.makeRelay, c.srtp.slice(0, 500)); // warm-up
  const rates = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  // Rounds interleave the cases so machine noise falls on all of them alike.
  for (let r = 0; r < ROUNDS; r++) for (const c of cases) rates.get(c.name)!.push(measure(c.makeRelay, c.srtp));
  const rows = cases.map((c) => {
    const rs = rates.get(c.name)!;
    return {
      case: c.name,
      'packets/s': Math.round(median(rs)),
      'µs/packet': Number((1e6 / median(rs)).toFixed(2)),
      'min..max packets/s': `${Math.round(Math.min(...rs))}..${Math.round(Math.max(...rs))}`,
    };
  });
  const knude = median(rates.get('knude AES_CM_128_HMAC_SHA1_80')!);
  const werift = median(rates.get('werift AES_CM_128_HMAC_SHA1_80')!);
  return {
    name: 'srtp',
    rows,
    ratio: knude / werift,
    ratioLabel: `knude ÷ werift packets/s, unprotect+protect of 1,200-byte RTP with AES_CM_128_HMAC_SHA1_80 (higher is better; target >= 25,000 packets/s per core)`,
  };
}
