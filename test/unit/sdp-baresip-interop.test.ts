/**
 * A real endpoint against knude's answerer: Debian's baresip (mediaenc=srtp-mand) dials a
 * minimal SIP UAS on 127.0.0.1 whose 200 OK carries negotiate()'s answer. It proves that
 *  - baresip's genuine offer reads as expected and baresip takes knude's answer (it ACKs and
 *    sends SRTP to knude's port);
 *  - `rx` is the very key baresip protects with: every packet's HMAC-SHA1 tag checks out under
 *    it (RFC 3711 key derivation and authentication, computed here independently of knude);
 *  - `tx` is the key baresip expects: baresip's own audio, unprotected with `rx` and sent back
 *    protected with `tx` by knude's SRTP module, is decrypted and counted by baresip, while the
 *    same audio under another key makes baresip report "failed to decrypt".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sdpTransform from 'sdp-transform';
import { afterEach, describe, expect, it } from 'vitest';
import { negotiate } from '../../src/media/sdp/negotiate.js';
import type { SrtpKeyParams } from '../../src/media/sdp/suites.js';
import type { AnswerResult } from '../../src/media/sdp/types.js';
import { SrtpContext } from '../../src/media/srtp/index.js';
import { capabilities } from '../fixtures/sdp/fixtures.js';
import { freePort } from '../helpers/ports.js';

/** RFC 3711 §4.3.1 with KDR 0: a session key from the master key and salt by AES-CM. */
function deriveKey(key: SrtpKeyParams, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  key.masterSalt.copy(iv, 0);
  iv[7] ^= label; // key_id = label || 48 zero bits, aligned with the salt's low end
  return createCipheriv(`aes-${key.masterKey.length * 8}-ctr`, key.masterKey, iv).update(Buffer.alloc(length));
}

/** RFC 3711 §4.2: HMAC-SHA1 over the packet and the rollover counter (0 at the start). */
function srtpTagValid(packet: Buffer, key: SrtpKeyParams): boolean {
  const tagLength = key.suite.endsWith('_32') ? 4 : 10;
  const authKey = deriveKey(key, 0x01, 20);
  const body = packet.subarray(0, packet.length - tagLength);
  const tag = createHmac('sha1', authKey).update(body).update(Buffer.alloc(4)).digest().subarray(0, tagLength);
  return tag.equals(packet.subarray(packet.length - tagLength));
}

interface SipMessage {
  startLine: string;
  headers: Map<string, string>;
  body: string;
}

function parseSip(data: Buffer): SipMessage {
  const text = data.toString();
  const split = text.indexOf('\r\n\r\n');
  const [startLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
  return { startLine, headers, body: text.slice(split + 4) };
}

const sockets: dgram.Socket[] = [];
let baresip: ChildProcess | undefined;
let dir: string | undefined;

afterEach(() => {
  baresip?.kill('SIGKILL');
  baresip = undefined;
  for (const s of sockets.splice(0)) s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function udp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

interface Call {
  invite: SipMessage;
  result: Extract<AnswerResult, { ok: true }>;
  /** The first SRTP packets baresip sent, as received. */
  media: Buffer[];
  /** Resolves once baresip's output matches, rejects if baresip exits first or after 10 s. */
  waitFor(pattern: RegExp): Promise<void>;
  output(): string;
}

/**
 * baresip calls knude's UAS; knude answers with negotiate() and echoes baresip's audio back:
 * unprotected with rx, re-protected with `echoKey(result)` (tx, or a wrong key as control).
 */
async function baresipCalls(echoKey: (result: Extract<AnswerResult, { ok: true }>) => SrtpKeyParams): Promise<Call> {
  const sip = await udp();
  const rtp = await udp();
  const sipPort = sip.address().port;
  dir = mkdtempSync(join(tmpdir(), 'knude-sdp-baresip-'));
  writeFileSync(
    join(dir, 'config'),
    [
      // baresip also binds TLS on this port + 1; freePort never hands that one out either
      `sip_listen 127.0.0.1:${await freePort('both')}`,
      'audio_source ausine,440',
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module opus.so', // ausine makes 48 kHz only, so the call runs on opus
      'module ausine.so',
      'module srtp.so',
      'module_app account.so',
      'module_app menu.so',
    ].join('\n') + '\n',
  );
  writeFileSync(join(dir, 'accounts'), '<sip:endpoint@127.0.0.1>;regint=0;mediaenc=srtp-mand\n');
  const caps = capabilities({ address: '127.0.0.1', audio: { port: rtp.address().port, codecs: ['opus', 'PCMU', 'PCMA'] }, suites: ['AES_256_CM_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_80'] });

  let output = '';
  let invite: SipMessage | undefined;
  let result: AnswerResult | undefined;
  const media: Buffer[] = [];
  let unprotect: SrtpContext | undefined;
  let protect: SrtpContext | undefined;
  let sequence = 0;
  rtp.on('message', (packet) => {
    if (!result?.ok) return;
    if (media.length < 10) media.push(packet);
    unprotect ??= new SrtpContext(result.audio.rx);
    protect ??= new SrtpContext(echoKey(result));
    const plain = Buffer.from(unprotect.unprotectRtp(packet));
    plain.writeUInt32BE(0x4b4e5544, 8); // knude's own SSRC
    plain.writeUInt16BE(sequence++ & 0xffff, 2);
    rtp.send(protect.protectRtp(plain), result.audio.remote.rtpPort, '127.0.0.1');
  });
  const acked = new Promise<void>((resolve) => {
    sip.on('message', (data, from) => {
      const msg = parseSip(data);
      if (msg.startLine.startsWith('ACK ')) resolve();
      if (!msg.startLine.startsWith('INVITE ')) return;
      invite = msg;
      result = negotiate(msg.body, caps);
      const h = (name: string): string => msg.headers.get(name)!;
      const body = result.ok ? result.answerSdp : '';
      const status = result.ok ? '200 OK' : `${result.status} Not Acceptable Here`;
      const response = [`SIP/2.0 ${status}`, `Via: ${h('via')}`, `From: ${h('from')}`, `To: ${h('to')};tag=knude1`, `Call-ID: ${h('call-id')}`, `CSeq: ${h('cseq')}`, `Contact: <sip:room@127.0.0.1:${sipPort}>`, 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
      sip.send(response, from.port, from.address);
    });
  });

  const child = spawn('baresip', ['-f', dir, '-e', `/dial sip:room@127.0.0.1:${sipPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  baresip = child;
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`baresip exited (${code}): ${output}`))));
  exited.catch(() => undefined);
  const waitFor = (pattern: RegExp): Promise<void> =>
    Promise.race([
      exited,
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const timer = setInterval(() => {
          if (pattern.test(output)) resolve();
          else if (Date.now() - started > 10_000) reject(new Error(`baresip never printed ${pattern}: ${output.slice(-2000)}`));
          else return;
          clearInterval(timer);
        }, 50);
      }),
    ]);

  await Promise.race([acked, exited]);
  if (!result!.ok) throw new Error(`knude refused baresip: ${result!.warning}`);
  await waitFor(/Call established/);
  return { invite: invite!, result: result!, media, waitFor, output: () => output };
}

describe('baresip (srtp-mand) calling knude', () => {
  it('offers, takes knude\'s answer and uses exactly the keys negotiate() settled', async () => {
    const call = await baresipCalls((result) => result.audio.tx);
    // baresip's own offer, as Debian's baresip writes it
    const offer = sdpTransform.parse(call.invite.body);
    expect(offer.media.map((m) => `${m.type} ${m.protocol}`)).toEqual(['audio RTP/SAVP']);
    expect(offer.media[0].crypto!.map((c) => c.suite)).toEqual(['AES_CM_128_HMAC_SHA1_80']);
    const audio = call.result.audio;
    expect(audio).toMatchObject({ codec: 'opus', clockRate: 48000, channels: 2, crypto: { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' }, remote: { rtcpMux: false } });

    // what baresip sends is protected with rx, and not with knude's own key
    await call.waitFor(/audio=\d+\/[1-9]\d*/); // baresip's receive bitrate: knude's echo decrypts
    expect(call.media.length).toBeGreaterThan(0);
    for (const packet of call.media) {
      expect(packet[0] >> 6).toBe(2);
      expect(packet[1] & 0x7f).toBe(audio.payloadType);
      expect(packet.readUInt32BE(8)).toBe(audio.ssrc);
      expect(srtpTagValid(packet, audio.rx)).toBe(true);
      expect(srtpTagValid(packet, audio.tx)).toBe(false);
    }
    expect(call.output()).not.toMatch(/failed to decrypt/);
  });

  it('control: the same echo under a key knude did not announce is refused by baresip', async () => {
    const call = await baresipCalls((result) => ({ ...result.audio.tx, masterKey: Buffer.alloc(16, 0x5a) }));
    await call.waitFor(/srtp: failed to decrypt RTP packet/);
  });
});
