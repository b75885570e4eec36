/**
 * JanusMediaPlane against the real Janus, with werift as a browser stand-in (a real WebRTC
 * stack: DTLS-SRTP, ICE). Room life cycle in both plugins, a leg publishing a real offer,
 * and, where this machine has a non-loopback IPv4 address (Janus never gathers on
 * loopback), two legs that connect, see each other's feeds and subscribe to them. Then a
 * Janus killed under the plane: down, restarted, rooms gone until ensureRoom.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sdpTransform from 'sdp-transform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RTCPeerConnection } from 'werift';
import { JanusError, VideoRoomError } from '../../src/media/janus/client.js';
import { janusRoomId, JanusMediaPlane, type JanusBrowserLeg } from '../../src/media/janus/media-plane.js';
import { JanusSupervisor } from '../../src/media/janus/process.js';
import type { SubscriberOffer } from '../../src/media/plane.js';
import { freePort } from '../helpers/ports.js';

const janusBinary = spawnSync('sh', ['-c', 'command -v janus'], { encoding: 'utf8' }).stdout.trim();
const hostAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
const log = pino({ level: 'silent' });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'knude-janus-plane-'));
const ADMIN_KEY = 'plane-admin-key';

let sup: JanusSupervisor;
let plane: JanusMediaPlane;
const peers: RTCPeerConnection[] = [];

/** A werift peer offering sendrecv audio + video, like the knude page does. */
async function browserOffer(): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({});
  peers.push(pc);
  pc.addTransceiver('audio', { direction: 'sendrecv' });
  pc.addTransceiver('video', { direction: 'sendrecv' });
  await pc.setLocalDescription(await pc.createOffer());
  return { pc, sdp: pc.localDescription!.sdp };
}

function once<T = unknown>(leg: JanusBrowserLeg, event: Parameters<JanusBrowserLeg['on']>[0], ms = 10_000, pred: (d: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    leg.on(event, (d) => {
      if (!pred(d as T)) return;
      clearTimeout(t);
      resolve(d as T);
    });
  });
}

describe.skipIf(!janusBinary)('JanusMediaPlane (real Janus, werift peers)', () => {
  beforeAll(async () => {
    const [wsPort, adminWsPort, rtp] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
    sup = JanusSupervisor.embedded({
      log,
      backoffMs: 50,
      config: { dataDir: tmp, wsPort, adminWsPort, adminSecret: 'plane-admin', adminKey: ADMIN_KEY, rtpPortRange: [rtp, rtp + 200], debugLevel: 3 },
    });
    plane = new JanusMediaPlane({ supervisor: sup, log, adminKey: ADMIN_KEY, answerWaitMs: 3000 });
    await plane.start();
  });

  afterAll(async () => {
    for (const pc of peers) await pc.close().catch(() => {});
    await plane?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ensureRoom creates the VideoRoom + AudioBridge pair once, however often it is called', async () => {
    const spec = { roomId: 'akut-lund', maxParticipants: 6, description: 'Akutmottagning Lund' };
    expect(await plane.roomExists('akut-lund')).toBe(false);
    await Promise.all([plane.ensureRoom(spec), plane.ensureRoom(spec), plane.ensureRoom(spec)]);
    await plane.ensureRoom(spec);
    expect(await plane.roomExists('akut-lund')).toBe(true);
    const { videoroom, audiobridge } = await plane.controlHandles();
    const id = janusRoomId('akut-lund');
    const vr = (await videoroom.list()).filter((r) => r.room === id);
    expect(vr).toHaveLength(1);
    expect(vr[0]).toMatchObject({ description: 'Akutmottagning Lund', max_publishers: 6, videocodec: 'vp8,h264', audiocodec: 'opus,pcmu,pcma', audiolevel_event: true, is_private: true });
    const abr = (await audiobridge.list()).filter((r) => r.room === id);
    expect(abr).toHaveLength(1);
    expect(abr[0]).toMatchObject({ sampling_rate: 48000 });
    // Room-level requests need the room's secret: a wrong one is refused.
    await expect(videoroom.destroy(id, 'not-the-secret')).rejects.toMatchObject({ code: VideoRoomError.UNAUTHORIZED });
  });

  it('ensureRoom re-creates a half-missing pair', async () => {
    const { audiobridge } = await plane.controlHandles();
    await audiobridge.destroy(janusRoomId('akut-lund'), plane.roomSecret('akut-lund'));
    expect(await plane.roomExists('akut-lund')).toBe(false);
    await plane.ensureRoom({ roomId: 'akut-lund', maxParticipants: 6 });
    expect(await plane.roomExists('akut-lund')).toBe(true);
  });

  it('joining a room the plane never made fails with the VideoRoom error', async () => {
    const err = await plane.join('no-such-room', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusError);
    expect((err as JanusError).code).toBe(VideoRoomError.NO_SUCH_ROOM);
    expect(plane.legs.size).toBe(0);
  });

  it("publish: a real WebRTC offer gets Janus's DTLS-SRTP answer", async () => {
    await plane.ensureRoom({ roomId: 'publish-room', maxParticipants: 4 });
    const leg = await plane.join('publish-room', 'Sygeplejerske Hansen');
    expect(leg.feedId).toBeGreaterThan(0);
    const { sdp } = await browserOffer();
    const answer = await leg.publish({ type: 'offer', sdp });
    expect(answer.type).toBe('answer');
    const parsed = sdpTransform.parse(answer.sdp);
    expect(parsed.media.map((m) => m.type)).toEqual(['audio', 'video']);
    for (const m of parsed.media) {
      expect(m.protocol).toBe('UDP/TLS/RTP/SAVPF');
      expect(m.direction).toBe('recvonly');
      expect(m.setup).toBe('active');
    }
    expect(answer.sdp).toMatch(/a=fingerprint:sha-256 /);
    expect(parsed.media[0].rtp.map((r) => r.codec.toLowerCase())).toContain('opus');
    expect(parsed.media[1].rtp.map((r) => r.codec.toLowerCase())).toContain('vp8');
    // Muting maps to the publisher's streams; nothing to subscribe to while alone.
    await leg.setMuted('audio', true);
    await leg.setMuted('audio', false);
    expect(await leg.subscriberOffer()).toBeUndefined();
    const { videoroom } = await plane.controlHandles();
    expect((await videoroom.listParticipants(janusRoomId('publish-room'))).map((p) => p.id)).toEqual([leg.feedId]);
    await leg.leave();
    expect(plane.legs.size).toBe(0);
    // Janus tears a destroyed session's handles down asynchronously.
    await expect.poll(() => videoroom.listParticipants(janusRoomId('publish-room')), { timeout: 5000 }).toEqual([]);
  });

  it.skipIf(!hostAddress)('two legs connect, see each other and subscribe (DTLS-SRTP up, profile reported)', async () => {
    await plane.ensureRoom({ roomId: 'pair', maxParticipants: 4 });
    const alice = await plane.join('pair', 'Alice');
    const aliceUp = once(alice, 'webrtcup', 10_000, (d: { target?: string }) => d?.target === 'publisher');
    const aliceSrtp = once<string>(alice, 'srtp-profile');
    const a = await browserOffer();
    await a.pc.setRemoteDescription((await alice.publish({ type: 'offer', sdp: a.sdp })) as never);
    await aliceUp;
    expect(await aliceSrtp).toMatch(/^SRTP_(AEAD_AES_(128|256)_GCM|AES128_CM_SHA1_80)$/);
    expect(alice.srtpProfile).toBe(await aliceSrtp);

    const aliceSeesBob = once<{ feeds: Array<{ id: number; display: string }> }>(alice, 'feeds-changed');
    const bob = await plane.join('pair', 'Bob');
    const b = await browserOffer();
    await b.pc.setRemoteDescription((await bob.publish({ type: 'offer', sdp: b.sdp })) as never);
    expect((await aliceSeesBob).feeds).toEqual([{ id: bob.feedId, display: 'Bob' }]);

    // Bob joined after Alice: he knows her feed from the join and can subscribe right away.
    const bobOffer = (await bob.subscriberOffer()) as SubscriberOffer;
    expect(bobOffer.streams).toEqual([
      expect.objectContaining({ feedId: alice.feedId, display: 'Alice', kind: 'audio' }),
      expect.objectContaining({ feedId: alice.feedId, display: 'Alice', kind: 'video' }),
    ]);

    const offer = (await alice.subscriberOffer()) as SubscriberOffer;
    expect(offer.type).toBe('offer');
    expect(offer.streams.map((s) => [s.feedId, s.display, s.kind])).toEqual([
      [bob.feedId, 'Bob', 'audio'],
      [bob.feedId, 'Bob', 'video'],
    ]);
    const mids = sdpTransform.parse(offer.sdp).media.map((m) => String(m.mid));
    expect(offer.streams.map((s) => s.mid)).toEqual(mids);
    const sub = new RTCPeerConnection({});
    peers.push(sub);
    await sub.setRemoteDescription({ type: 'offer', sdp: offer.sdp } as never);
    await sub.setLocalDescription(await sub.createAnswer());
    const subUp = once(alice, 'webrtcup', 10_000, (d: { target?: string }) => d?.target === 'subscriber');
    await alice.subscriberAnswer({ type: 'answer', sdp: sub.localDescription!.sdp });
    await subUp;
    // Nothing changed since: no renegotiation.
    expect(await alice.subscriberOffer()).toBeUndefined();

    // Bob leaves: Alice hears of it, and her next offer drops his streams.
    const bobGone = once<{ feeds: unknown[] }>(alice, 'feeds-changed');
    await bob.leave();
    expect((await bobGone).feeds).toEqual([]);
    const after = (await alice.subscriberOffer()) as SubscriberOffer;
    expect(after).toBeDefined();
    expect(after.streams).toEqual([]);
    await sub.setRemoteDescription({ type: 'offer', sdp: after.sdp } as never);
    await sub.setLocalDescription(await sub.createAnswer());
    await alice.subscriberAnswer({ type: 'answer', sdp: sub.localDescription!.sdp });
    await alice.leave();
  }, 40_000);

  it.skipIf(!hostAddress)('a renegotiation asked for while the previous offer is unanswered waits for that answer', async () => {
    await plane.ensureRoom({ roomId: 'trio', maxParticipants: 4 });
    const publishLeg = async (name: string) => {
      const leg = await plane.join('trio', name);
      const up = once(leg, 'webrtcup', 10_000, (d: { target?: string }) => d?.target === 'publisher');
      const p = await browserOffer();
      await p.pc.setRemoteDescription((await leg.publish({ type: 'offer', sdp: p.sdp })) as never);
      await up;
      return leg;
    };
    const alice = await publishLeg('Alice');
    const bob = await publishLeg('Bob');
    const first = (await alice.subscriberOffer()) as SubscriberOffer;
    expect(first.streams.map((s) => s.display)).toEqual(['Bob', 'Bob']);
    // Carol arrives before Alice's browser has answered the first offer.
    const carolSeen = once(alice, 'feeds-changed');
    const carol = await publishLeg('Carol');
    await carolSeen;
    const second = alice.subscriberOffer();
    let settled = false;
    void second.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    const sub = new RTCPeerConnection({});
    peers.push(sub);
    await sub.setRemoteDescription({ type: 'offer', sdp: first.sdp } as never);
    await sub.setLocalDescription(await sub.createAnswer());
    await alice.subscriberAnswer({ type: 'answer', sdp: sub.localDescription!.sdp });
    const next = (await second) as SubscriberOffer;
    expect(next.streams.map((s) => [s.display, s.kind])).toEqual([
      ['Bob', 'audio'],
      ['Bob', 'video'],
      ['Carol', 'audio'],
      ['Carol', 'video'],
    ]);
    await sub.setRemoteDescription({ type: 'offer', sdp: next.sdp } as never);
    await sub.setLocalDescription(await sub.createAnswer());
    await alice.subscriberAnswer({ type: 'answer', sdp: sub.localDescription!.sdp });
    for (const l of [alice, bob, carol]) await l.leave();
    await plane.destroyRoom('trio');
  }, 40_000);

  it('destroyRoom takes out participants and remote publishers, then both rooms', async () => {
    await plane.ensureRoom({ roomId: 'doomed', maxParticipants: 4 });
    const leg = await plane.join('doomed', 'Carl');
    const hungUp = once<{ reason: string }>(leg, 'hangup');
    const { videoroom, audiobridge } = await plane.controlHandles();
    const id = janusRoomId('doomed');
    const remote = await videoroom.addRemotePublisher({
      room: id,
      secret: plane.roomSecret('doomed'),
      display: 'SIP leg',
      iface: '127.0.0.1',
      streams: [{ type: 'audio', mindex: 0, mid: '0', codec: 'opus' }],
    });
    // Janus answers add_remote_publisher before its publisher thread has added the feed.
    await expect.poll(async () => (await videoroom.listParticipants(id)).map((p) => p.id).filter((p) => p === leg.feedId || p === remote.id).sort(), { timeout: 5000 }).toEqual([leg.feedId, remote.id].sort());
    await plane.destroyRoom('doomed');
    expect(await plane.roomExists('doomed')).toBe(false);
    expect(await videoroom.exists(id)).toBe(false);
    expect(await audiobridge.exists(id)).toBe(false);
    expect((await hungUp).reason).toMatch(/kicked|destroyed/);
    await leg.leave();
    // Destroying what is not there is fine.
    await plane.destroyRoom('doomed');
    await plane.destroyRoom('never-existed');
  });

  it('a Janus killed under the plane: down, restarted, rooms gone until ensureRoom', async () => {
    await plane.ensureRoom({ roomId: 'survivor', maxParticipants: 3 });
    const leg = await plane.join('survivor', 'Dora');
    const legHangup = once<{ reason: string }>(leg, 'hangup');
    const seen: string[] = [];
    const restarted = new Promise<void>((resolve) => {
      plane.on('down', () => seen.push('down'));
      plane.on('restarted', () => {
        seen.push('restarted');
        resolve();
      });
    });
    process.kill(sup.pid!, 'SIGKILL');
    expect((await legHangup).reason).toMatch(/media server gone/);
    await expect(plane.ensureRoom({ roomId: 'x', maxParticipants: 2 })).rejects.toThrow(/down|closed|connect/);
    await restarted;
    expect(seen).toEqual(['down', 'restarted']);
    expect(plane.isUp).toBe(true);
    expect(plane.legs.size).toBe(0);
    await expect(leg.publish({ type: 'offer', sdp: (await browserOffer()).sdp })).rejects.toThrow(/ended/);
    expect(await plane.roomExists('survivor')).toBe(false);
    await plane.ensureRoom({ roomId: 'survivor', maxParticipants: 3 });
    expect(await plane.roomExists('survivor')).toBe(true);
    const again = await plane.join('survivor', 'Dora');
    expect(again.feedId).toBeGreaterThan(0);
    await again.leave();
  }, 30_000);

  it('close() leaves no Janus behind', async () => {
    const pid = sup.pid!;
    await plane.close();
    expect(sup.pid).toBeUndefined();
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
    await expect(plane.ensureRoom({ roomId: 'late', maxParticipants: 2 })).rejects.toThrow(/closed/);
  });
});
