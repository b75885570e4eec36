/**
 * Interop with the reference implementation: libsrtp 2 (Debian's libsrtp2 through
 * python3-pylibsrtp, driven by test/helpers/libsrtp_peer.py). For every suite that libsrtp
 * offers there, thousands of RTP packets (with CSRCs and header extensions, across a sequence
 * wrap, with loss and reordering) and hundreds of RTCP packets go both ways: libsrtp protects
 * and knude unprotects, knude protects and libsrtp unprotects, and every payload must come
 * back byte for byte. The same with an MKI (RFC 4568 `inline:key|lifetime|MKI:len`), through
 * libsrtp's srtp_protect_mki / srtp_unprotect_mki.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SRTP_SUITES, SrtpContext, SrtpError, generateKeyParams, type SrtpSuite } from '../../src/media/srtp/index.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'libsrtp_peer.py');

/** Debian's python3 first: a pyenv or venv python3 earlier on PATH does not see dist-packages. */
function findPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import pylibsrtp'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

const python = findPython();
if (!python) console.warn('srtp-libsrtp: skipped, python3-pylibsrtp is not installed (apt-get install python3-pylibsrtp; scripts/install.sh does)');

type Answer = { ok?: boolean; error?: string; suites?: string[]; results?: Array<{ ok?: string; error?: string }> };

class LibsrtpPeer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<(a: Answer) => void> = [];
  private stderr = '';
  private seq = 0;

  constructor(py: string) {
    this.proc = spawn(py, [PEER], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.proc.stdout }).on('line', (line) => this.waiting.shift()?.(JSON.parse(line) as Answer));
  }

  request(req: object): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null) return reject(new Error(`libsrtp peer exited: ${this.stderr}`));
      this.waiting.push(resolve);
      this.proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  async open(
    suite: SrtpSuite,
    key: { masterKey: Buffer; masterSalt: Buffer },
    role: 'protect' | 'unprotect',
    mki?: { value: number; length: number },
  ): Promise<string> {
    const id = `s${this.seq++}`;
    const a = await this.request({ op: 'open', id, suite, role, mki, key: Buffer.concat([key.masterKey, key.masterSalt]).toString('hex') });
    if (!a.ok) throw new Error(`libsrtp open ${suite}: ${a.error}`);
    return id;
  }

  /** Runs packets through the session in chunks; each result is the output or libsrtp's error. */
  async process(id: string, kind: 'rtp' | 'rtcp', packets: Buffer[]): Promise<Array<Buffer | string>> {
    const out: Array<Buffer | string> = [];
    for (let i = 0; i < packets.length; i += 400) {
      const a = await this.request({ op: kind, id, packets: packets.slice(i, i + 400).map((p) => p.toString('hex')) });
      if (!a.results) throw new Error(`libsrtp ${kind}: ${a.error}`);
      for (const r of a.results) out.push(r.ok !== undefined ? Buffer.from(r.ok, 'hex') : `libsrtp: ${r.error}`);
    }
    return out;
  }

  close(): void {
    this.proc.stdin.end();
  }
}

/** A deterministic generator so a failure can be replayed. */
function prng(seed: number) {
  return (n: number) => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed % n;
  };
}

/** RTP packets of two SSRCs from `firstSeq` on (wrapping at 65535), some with CSRCs and a header extension. */
function rtpStream(count: number, firstSeq: number, seed: number): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const csrcs = i % 7 === 3 ? 2 : 0;
    const ext = i % 5 === 1 ? 2 : -1; // header extension with 2 words
    const header = Buffer.alloc(12 + 4 * csrcs + (ext >= 0 ? 4 + 4 * ext : 0));
    header[0] = 0x80 | (ext >= 0 ? 0x10 : 0) | csrcs;
    header[1] = 96 | (i % 30 === 0 ? 0x80 : 0);
    header.writeUInt16BE((firstSeq + i) % 65_536, 2);
    header.writeUInt32BE((i * 3000) >>> 0, 4);
    header.writeUInt32BE(0x1234_5678, 8);
    for (let c = 0; c < csrcs; c++) header.writeUInt32BE(0xc0000000 + c, 12 + 4 * c);
    if (ext >= 0) {
      const at = 12 + 4 * csrcs;
      header.writeUInt16BE(0xbede, at);
      header.writeUInt16BE(ext, at + 2);
      header.fill(0x42, at + 4);
    }
    out.push(Buffer.concat([header, randomBytes(rnd(4) === 0 ? 1 + rnd(40) : 200 + rnd(1000))]));
  }
  return out;
}

/** Sender reports and receiver reports of a few sizes. */
function rtcpStream(count: number, seed: number): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const words = 6 + rnd(20);
    const p = randomBytes(4 * (words + 1));
    p[0] = 0x80 | 1;
    p[1] = i % 2 ? 200 : 201;
    p.writeUInt16BE(words, 2);
    p.writeUInt32BE(0xabcd_0001, 4);
    out.push(p);
  }
  return out;
}

/**
 * The order a network delivers them in: 200 consecutive packets lost just before the wrap, a
 * few more lost elsewhere, and adjacent pairs swapped here and there.
 */
function deliveryOrder(count: number, wrapAt: number, seed: number): number[] {
  const rnd = prng(seed);
  const order: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i >= wrapAt - 150 && i < wrapAt + 50) continue;
    if (rnd(100) === 0) continue;
    order.push(i);
  }
  for (let i = 0; i + 1 < order.length; i += 1 + rnd(9)) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
  return order;
}

const COUNT = 3000;
const FIRST_SEQ = 65_536 - 1200; // the wrap comes at packet 1200

describe.skipIf(!python)('SRTP interop with libsrtp (python3-pylibsrtp)', () => {
  let peer: LibsrtpPeer;
  let suites: SrtpSuite[] = [];

  beforeAll(async () => {
    peer = new LibsrtpPeer(python!);
    const a = await peer.request({ op: 'suites' });
    suites = (a.suites ?? []).filter((s): s is SrtpSuite => s in SRTP_SUITES);
  });
  afterAll(() => peer?.close());

  it('libsrtp offers at least the four DTLS-SRTP profiles and AES-256-CM', () => {
    expect(suites).toEqual(expect.arrayContaining(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM']));
    expect(suites.length).toBeGreaterThanOrEqual(4);
  });

  for (const suite of Object.keys(SRTP_SUITES) as SrtpSuite[]) {
    describe(suite, () => {
      it('libsrtp protects RTP across a wrap, knude unprotects it lost and reordered', async (ctx) => {
        if (!suites.includes(suite)) ctx.skip(`this libsrtp does not offer ${suite}`);
        const key = generateKeyParams(suite);
        const id = await peer.open(suite, key, 'protect');
        const plain = rtpStream(COUNT, FIRST_SEQ, 1);
        const srtp = await peer.process(id, 'rtp', plain);
        const ours = new SrtpContext({ suite, ...key });
        let accepted = 0;
        for (const i of deliveryOrder(COUNT, 1200, 2)) {
          const s = srtp[i]!;
          expect(typeof s, `libsrtp refused packet ${i}: ${String(s)}`).not.toBe('string');
          expect(ours.unprotectRtp(s as Buffer).equals(plain[i]!), `packet ${i}`).toBe(true);
          accepted++;
        }
        expect(accepted).toBeGreaterThan(COUNT - 300);
        expect(ours.stats.unprotected).toBe(accepted);
        expect(ours.stats.authFailures).toBe(0);
        // A replay of something libsrtp sent is refused as one.
        expect(() => ours.unprotectRtp(srtp[COUNT - 1] as Buffer)).toThrow(expect.objectContaining({ code: 'replay' }));
      });

      it('knude protects RTP across a wrap, libsrtp unprotects it lost and reordered', async (ctx) => {
        if (!suites.includes(suite)) ctx.skip(`this libsrtp does not offer ${suite}`);
        const key = generateKeyParams(suite);
        const id = await peer.open(suite, key, 'unprotect');
        const plain = rtpStream(COUNT, FIRST_SEQ, 3);
        const ours = new SrtpContext({ suite, ...key });
        const srtp = plain.map((p) => ours.protectRtp(p));
        const order = deliveryOrder(COUNT, 1200, 4);
        const back = await peer.process(id, 'rtp', order.map((i) => srtp[i]!));
        order.forEach((i, k) => {
          const b = back[k]!;
          expect(typeof b, `libsrtp refused packet ${i}: ${String(b)}`).not.toBe('string');
          expect((b as Buffer).equals(plain[i]!), `packet ${i}`).toBe(true);
        });
        // libsrtp refuses one of ours altered, as we refuse one of its.
        const next = rtpStream(COUNT + 1, FIRST_SEQ, 3)[COUNT]!; // the packet after the last one
        const altered = ours.protectRtp(next);
        altered[altered.length - 1]! ^= 0x01;
        expect(String((await peer.process(id, 'rtp', [altered]))[0])).toBe('libsrtp: authentication failure');
      });

      it('SRTCP both ways: libsrtp to knude and knude to libsrtp', async (ctx) => {
        if (!suites.includes(suite)) ctx.skip(`this libsrtp does not offer ${suite}`);
        const key = generateKeyParams(suite);
        const plain = rtcpStream(300, 5);

        const libProtect = await peer.open(suite, key, 'protect');
        const fromLib = await peer.process(libProtect, 'rtcp', plain);
        const oursIn = new SrtpContext({ suite, ...key });
        fromLib.forEach((s, i) => {
          expect(typeof s, String(s)).not.toBe('string');
          expect(oursIn.unprotectRtcp(s as Buffer).equals(plain[i]!), `RTCP ${i}`).toBe(true);
        });
        expect(() => oursIn.unprotectRtcp(fromLib[10] as Buffer)).toThrow(expect.objectContaining({ code: 'replay' }));

        const oursOut = new SrtpContext({ suite, ...key });
        const toLib = plain.map((p) => oursOut.protectRtcp(p));
        // E-bit set and an 80-bit (or GCM 128-bit) tag, whatever the SRTP tag length.
        expect(toLib[0]!.length).toBe(plain[0]!.length + 4 + SRTP_SUITES[suite].rtcpTagLength);
        const libUnprotect = await peer.open(suite, key, 'unprotect');
        const back = await peer.process(libUnprotect, 'rtcp', toLib);
        back.forEach((b, i) => {
          expect(typeof b, String(b)).not.toBe('string');
          expect((b as Buffer).equals(plain[i]!), `RTCP ${i}`).toBe(true);
        });
      });

      it('MKI both ways, SRTP and SRTCP: libsrtp and knude put and find it in the same place', async (ctx) => {
        if (!suites.includes(suite)) ctx.skip(`this libsrtp does not offer ${suite}`);
        const key = generateKeyParams(suite);
        const mki = { value: 0x0102_0304, length: 4 };
        const rtpPlain = rtpStream(300, 65_400, 7);
        const rtcpPlain = rtcpStream(50, 8);

        const libOut = await peer.open(suite, key, 'protect', mki);
        const fromLibRtp = await peer.process(libOut, 'rtp', rtpPlain);
        const fromLibRtcp = await peer.process(libOut, 'rtcp', rtcpPlain);
        const oursIn = new SrtpContext({ suite, ...key, mki });
        fromLibRtp.forEach((s, i) => expect(oursIn.unprotectRtp(s as Buffer).equals(rtpPlain[i]!), `RTP ${i}: ${String(s)}`).toBe(true));
        fromLibRtcp.forEach((s, i) => expect(oursIn.unprotectRtcp(s as Buffer).equals(rtcpPlain[i]!), `RTCP ${i}: ${String(s)}`).toBe(true));
        // Our context with another MKI does not take libsrtp's packets.
        const otherMki = new SrtpContext({ suite, ...key, mki: { value: 9, length: 4 } });
        expect(() => otherMki.unprotectRtp(fromLibRtp[0] as Buffer)).toThrow(expect.objectContaining({ code: 'unknown-mki' }));

        const oursOut = new SrtpContext({ suite, ...key, mki });
        const libIn = await peer.open(suite, key, 'unprotect', mki);
        const rtpBack = await peer.process(libIn, 'rtp', rtpPlain.map((p) => oursOut.protectRtp(p)));
        const rtcpBack = await peer.process(libIn, 'rtcp', rtcpPlain.map((p) => oursOut.protectRtcp(p)));
        rtpBack.forEach((b, i) => expect(Buffer.isBuffer(b) && b.equals(rtpPlain[i]!), `RTP ${i}: ${String(b)}`).toBe(true));
        if (SRTP_SUITES[suite].rtcpTagLength !== SRTP_SUITES[suite].rtpTagLength && !SRTP_SUITES[suite].aead) {
          // libsrtp 2.5 looks for the SRTCP MKI one RTP tag length (4 bytes for _32) from the end
          // instead of the SRTCP tag's 10 (srtp_get_session_keys), so it refuses even its own
          // _32 SRTCP packets with an MKI. Shown here so the day it is fixed this test says so.
          const own = await peer.process(libIn, 'rtcp', [fromLibRtcp[0] as Buffer]);
          expect(own[0]).toBe('libsrtp: error MKI present in packet is invalid');
          expect(rtcpBack.every((b) => b === 'libsrtp: error MKI present in packet is invalid')).toBe(true);
        } else {
          rtcpBack.forEach((b, i) => expect(Buffer.isBuffer(b) && b.equals(rtcpPlain[i]!), `RTCP ${i}: ${String(b)}`).toBe(true));
        }
      });

      it('a context keyed differently from libsrtp refuses its packets as auth failures', async (ctx) => {
        if (!suites.includes(suite)) ctx.skip(`this libsrtp does not offer ${suite}`);
        const id = await peer.open(suite, generateKeyParams(suite), 'protect');
        const [srtp] = await peer.process(id, 'rtp', rtpStream(1, 100, 6));
        const wrong = new SrtpContext({ suite, ...generateKeyParams(suite) });
        expect(() => wrong.unprotectRtp(srtp as Buffer)).toThrow(SrtpError);
        expect(() => wrong.unprotectRtp(srtp as Buffer)).toThrow(expect.objectContaining({ code: 'auth' }));
      });
    });
  }
});
