/**
 * JanusClient and the VideoRoom/AudioBridge wrappers against the real Janus: transactions,
 * typed errors with the plugins' codes, room administration in both plugins, remote
 * publishers and plain-RTP AudioBridge participants, keepalives and lost sessions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIOBRIDGE_PLUGIN, AudioBridgeAdmin, AudioBridgeParticipant } from '../../src/media/janus/audiobridge.js';
import {
  AudioBridgeError,
  JanusClient,
  JanusConnectionError,
  JanusCoreError,
  JanusError,
  VideoRoomError,
  type JanusSession,
  type PluginEvent,
} from '../../src/media/janus/client.js';
import { JanusSupervisor } from '../../src/media/janus/process.js';
import { VIDEOROOM_PLUGIN, VideoRoomAdmin, VideoRoomPublisher } from '../../src/media/janus/videoroom.js';
import { freePort } from '../helpers/ports.js';

const janusBinary = spawnSync('sh', ['-c', 'command -v janus'], { encoding: 'utf8' }).stdout.trim();
const log = pino({ level: 'silent' });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'knude-janus-client-'));
const ADMIN_KEY = 'knude-admin-key';
const supervisors: JanusSupervisor[] = [];
let abRange: [number, number] = [0, 0];

async function startJanus(name: string, sessionTimeout?: number): Promise<JanusSupervisor> {
  const [wsPort, adminWsPort, rtp] = [await freePort('tcp'), await freePort('tcp'), await freePort('udp')];
  const sup = JanusSupervisor.embedded({
    log,
    config: { dataDir: path.join(tmp, name), wsPort, adminWsPort, adminSecret: 'admin', adminKey: ADMIN_KEY, rtpPortRange: [rtp, rtp + 100], debugLevel: 3, sessionTimeout },
  });
  abRange = [rtp, rtp + 100];
  supervisors.push(sup);
  await sup.start();
  return sup;
}

function nextEvent(h: { once(e: 'event', fn: (e: PluginEvent) => void): unknown }, ms = 5000): Promise<PluginEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no event')), ms);
    h.once('event', (e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

let sup: JanusSupervisor;
let client: JanusClient;
let session: JanusSession;
let vr: VideoRoomAdmin;
let ab: AudioBridgeAdmin;

describe.skipIf(!janusBinary)('JanusClient against the real Janus', () => {
  beforeAll(async () => {
    sup = await startJanus('main');
    client = await JanusClient.connect(sup.url, { log });
    session = await client.createSession();
    vr = new VideoRoomAdmin(await session.attach(VIDEOROOM_PLUGIN), ADMIN_KEY);
    ab = new AudioBridgeAdmin(await session.attach(AUDIOBRIDGE_PLUGIN), ADMIN_KEY);
  });

  afterAll(async () => {
    await client?.close();
    for (const s of supervisors) await s.stop().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  it('matches concurrent answers to their requests by transaction', async () => {
    const rooms = Array.from({ length: 25 }, (_, i) => 900_000 + i);
    await vr.create({ room: rooms[7] });
    const answers = await Promise.all(rooms.map((room) => vr.handle.message({ request: 'exists', room })));
    answers.forEach((a, i) => {
      expect(a.data.room).toBe(rooms[i]);
      expect(a.data.exists).toBe(i === 7);
    });
    await vr.destroy(rooms[7]);
  });

  it("joining a room that does not exist is a JanusError with the VideoRoom's code 426", async () => {
    const pub = new VideoRoomPublisher(await session.attach(VIDEOROOM_PLUGIN));
    const err = await pub.join(424242, { display: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusError);
    expect(err).toMatchObject({ code: VideoRoomError.NO_SUCH_ROOM, source: VIDEOROOM_PLUGIN });
    expect((err as JanusError).reason).toMatch(/No such room/);
    await pub.handle.detach();
  });

  it("the AudioBridge's codes too (485), and core errors with the core's codes (458)", async () => {
    const p = new AudioBridgeParticipant(await session.attach(AUDIOBRIDGE_PLUGIN));
    await expect(p.join(434343)).rejects.toMatchObject({ code: AudioBridgeError.NO_SUCH_ROOM, source: AUDIOBRIDGE_PLUGIN });
    await p.handle.detach();
    const err = await client.request({ janus: 'attach', session_id: 1234, plugin: VIDEOROOM_PLUGIN }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusError);
    expect(err).toMatchObject({ code: JanusCoreError.SESSION_NOT_FOUND, source: 'core' });
  });

  it('only the holder of the admin_key creates rooms', async () => {
    const anyone = new VideoRoomAdmin(vr.handle);
    await expect(anyone.create({ room: 777 })).rejects.toMatchObject({ code: VideoRoomError.MISSING_ELEMENT });
    const wrong = new VideoRoomAdmin(vr.handle, 'guess');
    await expect(wrong.create({ room: 777 })).rejects.toMatchObject({ code: VideoRoomError.UNAUTHORIZED });
    await expect(new AudioBridgeAdmin(ab.handle, 'guess').create({ room: 777 })).rejects.toMatchObject({ code: AudioBridgeError.UNAUTHORIZED });
    expect(await vr.exists(777)).toBe(false);
  });

  it('VideoRoom: create, exists, list, participants, kick, destroy', async () => {
    const room = 1001;
    expect(
      await vr.create({ room, description: 'Akut Lund', secret: 's3', is_private: true, publishers: 4, bitrate: 512_000, fir_freq: 10, videocodec: 'vp8,h264', audiocodec: 'opus', audiolevel_event: true, audio_active_packets: 50, audio_level_average: 40 }),
    ).toBe(room);
    await expect(vr.create({ room })).rejects.toMatchObject({ code: VideoRoomError.ROOM_EXISTS });
    expect(await vr.exists(room)).toBe(true);
    const info = (await vr.list()).find((r) => r.room === room)!;
    expect(info).toMatchObject({ description: 'Akut Lund', max_publishers: 4, bitrate: 512_000, fir_freq: 10, videocodec: 'vp8,h264', audiocodec: 'opus', audiolevel_event: true, num_participants: 0 });

    const pub = new VideoRoomPublisher(await session.attach(VIDEOROOM_PLUGIN));
    const joined = await pub.join(room, { display: 'Dr. Berg' });
    expect(joined.id).toBeGreaterThan(0);
    expect(joined.publishers).toEqual([]);
    expect(await vr.listParticipants(room)).toEqual([expect.objectContaining({ id: joined.id, display: 'Dr. Berg', publisher: false })]);

    await expect(vr.kick(room, joined.id, 'wrong')).rejects.toMatchObject({ code: VideoRoomError.UNAUTHORIZED });
    const kicked = nextEvent(pub.handle);
    await vr.kick(room, joined.id, 's3');
    expect((await kicked).data).toMatchObject({ videoroom: 'event', leaving: 'ok', reason: 'kicked' });
    expect(await vr.listParticipants(room)).toEqual([]);

    await expect(vr.destroy(room, 'wrong')).rejects.toMatchObject({ code: VideoRoomError.UNAUTHORIZED });
    await vr.destroy(room, 's3');
    expect(await vr.exists(room)).toBe(false);
    await expect(vr.destroy(room, 's3')).rejects.toMatchObject({ code: VideoRoomError.NO_SUCH_ROOM });
    await pub.handle.detach();
  });

  it('VideoRoom remote publishers: added on a loopback port, listed as remote, removed', async () => {
    const room = 1002;
    await vr.create({ room, secret: 's' });
    const added = await vr.addRemotePublisher({
      room,
      secret: 's',
      display: 'SIP: Polycom',
      iface: '127.0.0.1',
      streams: [
        { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
        { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
      ],
    });
    expect(added.room).toBe(room);
    expect(added.id).toBeGreaterThan(0);
    expect(added.ip).toBe('127.0.0.1');
    expect(added.port).toBeGreaterThan(0);
    const listed = await vr.listParticipants(room);
    expect(listed).toEqual([expect.objectContaining({ id: added.id, display: 'SIP: Polycom', remote: true, publisher: true })]);
    // A browser joining sees the remote feed like any other publisher.
    const pub = new VideoRoomPublisher(await session.attach(VIDEOROOM_PLUGIN));
    const joined = await pub.join(room, { display: 'browser' });
    expect(joined.publishers.map((p) => p.id)).toEqual([added.id]);
    expect(joined.publishers[0].streams.map((s) => s.type)).toEqual(['audio', 'video']);
    await pub.handle.detach();
    await vr.removeRemotePublisher(room, added.id, 's');
    await expect(vr.removeRemotePublisher(room, added.id, 's')).rejects.toMatchObject({ code: VideoRoomError.NO_SUCH_FEED });
    await new Promise((r) => setTimeout(r, 200));
    expect(await vr.listParticipants(room)).toEqual([]);
    await vr.destroy(room, 's');
  });

  it('AudioBridge: create (48 kHz, plain RTP allowed), exists, list, RTP participant, kick, destroy', async () => {
    const room = 2001;
    await ab.create({ room, description: 'Akut Lund (audio)', secret: 'a', is_private: true, sampling_rate: 48000, audiolevel_event: true, audio_active_packets: 50, allow_rtp_participants: true });
    await expect(ab.create({ room })).rejects.toMatchObject({ code: AudioBridgeError.ROOM_EXISTS });
    expect(await ab.exists(room)).toBe(true);
    expect((await ab.list()).find((r) => r.room === room)).toMatchObject({ description: 'Akut Lund (audio)', sampling_rate: 48000, num_participants: 0 });

    // A SIP leg joins with plain RTP: the bridge says where to send.
    const rtpPort = await freePort('udp');
    const p = new AudioBridgeParticipant(await session.attach(AUDIOBRIDGE_PLUGIN));
    const joined = await p.join(room, { display: 'SIP: Cisco', codec: 'pcma', rtp: { ip: '127.0.0.1', port: rtpPort } });
    expect(joined.id).toBeGreaterThan(0);
    expect(joined.rtp?.port).toBeGreaterThan(0);
    expect(joined.rtp?.ip).toBe('127.0.0.1');
    expect(await ab.listParticipants(room)).toEqual([expect.objectContaining({ id: joined.id, display: 'SIP: Cisco' })]);
    // Plain-RTP ports come from the AudioBridge's own range (written from rtpPortRange).
    const [min, max] = abRange;
    expect(joined.rtp!.port).toBeGreaterThanOrEqual(min);
    expect(joined.rtp!.port).toBeLessThanOrEqual(max);
    const kicked = nextEvent(p.handle);
    await ab.kick(room, joined.id, 'a');
    expect((await kicked).data).toMatchObject({ audiobridge: 'event', kicked: joined.id });
    // The kicked participant goes when Janus has torn its media down (asynchronously).
    const until = Date.now() + 3000;
    while ((await ab.listParticipants(room)).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await ab.listParticipants(room)).toEqual([]);
    await ab.destroy(room, 'a');
    expect(await ab.exists(room)).toBe(false);
    await p.handle.detach();
  });

  it('keepalives hold a session past session_timeout; a session without them times out', async () => {
    const short = await startJanus('timeout', 2);
    const c = await JanusClient.connect(short.url, { keepaliveMs: 500 });
    const lazy = await JanusClient.connect(short.url, { keepaliveMs: 60_000 });
    try {
      const kept = await c.createSession();
      const dropped = await lazy.createSession();
      const lost = new Promise<string>((resolve) => dropped.on('lost', (e) => resolve(e.reason)));
      let keptLost = false;
      kept.on('lost', () => (keptLost = true));
      expect(await lost).toBe('timeout');
      expect(dropped.lost).toBe(true);
      expect(keptLost).toBe(false);
      const h = await kept.attach(VIDEOROOM_PLUGIN);
      expect(h.id).toBeGreaterThan(0);
      await expect(dropped.attach(VIDEOROOM_PLUGIN)).rejects.toBeInstanceOf(JanusConnectionError);
    } finally {
      await c.close();
      await lazy.close();
      await short.stop();
    }
  }, 20_000);

  it('when the socket closes, sessions are marked lost, pending requests fail and close is emitted', async () => {
    const doomed = await startJanus('doomed');
    const c = await JanusClient.connect(doomed.url);
    const s = await c.createSession();
    const h = await s.attach(VIDEOROOM_PLUGIN);
    const lost = new Promise<string>((resolve) => s.on('lost', (e) => resolve(e.reason)));
    const closed = new Promise<boolean>((resolve) => c.on('close', (e) => resolve(e.expected)));
    let detached = false;
    h.on('detached', () => (detached = true));
    // Stop Janus under a request that waits for an asynchronous answer.
    const pending = new VideoRoomPublisher(h).join(31337).catch((e: unknown) => e);
    doomed.removeAllListeners('down');
    await doomed.stop();
    expect(await lost).toBe('closed');
    expect(await closed).toBe(false);
    expect(detached).toBe(true);
    const err = await pending;
    expect(err instanceof JanusConnectionError || err instanceof JanusError).toBe(true);
    expect(c.sessions.size).toBe(0);
    await expect(c.createSession()).rejects.toBeInstanceOf(JanusConnectionError);
  });
});
