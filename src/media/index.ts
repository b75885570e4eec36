/**
 * Builds the node's media plane from its configuration: an embedded Janus (configuration
 * written under dataDir, started and supervised), an external one, or none ('off').
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Logger } from 'pino';
import type { KnudeConfig } from '../config/schema.js';
import { JanusMediaPlane, type JanusRoomDefaults } from './janus/media-plane.js';
import { JanusSupervisor } from './janus/process.js';

export type {
  BrowserLeg,
  MediaPlane,
  MediaRoomSpec,
  RTCIceCandidateInit,
  RtpTarget,
  SipLegSpec,
  SipMediaLeg,
  SubscriberOffer,
  VideoTap,
  VideoTapStream,
  VideoTapTalking,
  VideoTapTarget,
} from './plane.js';
export { SipLegSpecError, remotePublisherSsrc } from './janus/sip-leg.js';
export { VideoTapError } from './janus/video-tap.js';
export { JanusMediaPlane, janusRoomId } from './janus/media-plane.js';
export { JanusSupervisor } from './janus/process.js';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export interface StartMediaPlaneOptions {
  media: KnudeConfig['media'];
  dataDir: string;
  log: Logger;
  /** Janus debug level (default 4; 3 keeps the log to warnings and errors). */
  debugLevel?: number;
  serverName?: string;
  /** API/Admin ports of the embedded Janus (default: free loopback ports). */
  wsPort?: number;
  adminWsPort?: number;
  binary?: string;
  room?: Partial<JanusRoomDefaults>;
}

/**
 * Starts the media plane the configuration asks for; undefined when media.janus is 'off'.
 * The embedded Janus gets fresh random admin_secret and plugin admin_key at every start
 * (nothing about Janus is persisted).
 */
export async function startMediaPlane(o: StartMediaPlaneOptions): Promise<JanusMediaPlane | undefined> {
  const m = o.media;
  if (m.janus === 'off') return undefined;
  let supervisor: JanusSupervisor;
  let adminKey: string | undefined;
  if (m.janus === 'external') {
    if (!m.externalUrl) throw new Error('media.externalUrl is required when media.janus is external');
    supervisor = JanusSupervisor.external({ url: m.externalUrl, log: o.log });
  } else {
    const adminSecret = randomBytes(24).toString('base64url');
    adminKey = randomBytes(24).toString('base64url');
    const wsPort = o.wsPort ?? (await freeLoopbackPort());
    let adminWsPort = o.adminWsPort ?? (await freeLoopbackPort());
    while (adminWsPort === wsPort) adminWsPort = await freeLoopbackPort();
    supervisor = JanusSupervisor.embedded({
      log: o.log,
      binary: o.binary,
      config: {
        dataDir: o.dataDir,
        wsPort,
        adminWsPort,
        adminSecret,
        adminKey,
        rtpPortRange: [m.rtpPortMin, m.rtpPortMax],
        iceEnforceList: m.iceEnforceList ?? undefined,
        nat1to1: m.nat1to1 ?? undefined,
        debugLevel: o.debugLevel ?? 4,
        serverName: o.serverName,
      },
    });
  }
  const plane = new JanusMediaPlane({ supervisor, log: o.log, adminKey, room: o.room });
  try {
    await plane.start();
  } catch (err) {
    await plane.close().catch(() => {});
    throw err;
  }
  return plane;
}
