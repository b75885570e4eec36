/**
 * Free-port helper for tests that start real listeners (knude, sipp, raw sockets).
 *
 * freePort() asks the kernel for an ephemeral port on one protocol, then bind-tests
 * the same number on the other protocol (for 'both'), closes everything and returns
 * the number. A port handed out once by this process is never handed out again, so two
 * calls in one test file cannot collide with each other. Nor is the port above one handed
 * out: baresip binds its TLS transport on its SIP port + 1 whatever its config says, and
 * the kernel hands out ephemeral ports in sequence, so two baresip in one test would
 * otherwise take each other's. (There is an unavoidable window between the close and the
 * real bind; keep it short.)
 */
import dgram from 'node:dgram';
import net from 'node:net';

export type PortKind = 'udp' | 'tcp' | 'both';

const issued = new Set<number>();

function bindTcp(port: number, host: string): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host, exclusive: true }, () => resolve(srv));
  });
}

function bindUdp(port: number, host: string): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    sock.unref();
    sock.once('error', () => {
      try {
        sock.close();
      } catch {
        /* never bound */
      }
      resolve(null);
    });
    sock.bind({ port, address: host, exclusive: true }, () => resolve(sock));
  });
}

function closeTcp(srv: net.Server | null): Promise<void> {
  return new Promise((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
}

function closeUdp(sock: dgram.Socket | null): Promise<void> {
  return new Promise((resolve) => (sock ? sock.close(() => resolve()) : resolve()));
}

function boundPort(x: net.Server | dgram.Socket): number {
  const a = x.address();
  if (typeof a === 'string' || a === null) throw new Error('unexpected address');
  return a.port;
}

/** True when `port` can be bound right now on `host` for the given kind(s). */
export async function isPortFree(port: number, kind: PortKind = 'both', host = '127.0.0.1'): Promise<boolean> {
  const tcp = kind === 'udp' ? null : await bindTcp(port, host);
  const udp = kind === 'tcp' ? null : await bindUdp(port, host);
  const ok = (kind === 'udp' || tcp !== null) && (kind === 'tcp' || udp !== null);
  await Promise.all([closeTcp(tcp), closeUdp(udp)]);
  return ok;
}

/**
 * A port that is free on `host` (default 127.0.0.1) for UDP, TCP or both (default both:
 * a SIP listener usually wants the same number on both transports).
 */
export async function freePort(kind: PortKind = 'both', host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    let port: number;
    let tcp: net.Server | null = null;
    let udp: dgram.Socket | null = null;
    if (kind === 'udp') {
      udp = await bindUdp(0, host);
      if (!udp) throw new Error(`cannot bind any UDP port on ${host}`);
      port = boundPort(udp);
    } else {
      tcp = await bindTcp(0, host);
      if (!tcp) throw new Error(`cannot bind any TCP port on ${host}`);
      port = boundPort(tcp);
      if (kind === 'both') udp = await bindUdp(port, host);
    }
    const ok = kind !== 'both' || udp !== null;
    await Promise.all([closeTcp(tcp), closeUdp(udp)]);
    if (ok && !issued.has(port) && !issued.has(port + 1)) {
      issued.add(port);
      issued.add(port + 1);
      return port;
    }
  }
  throw new Error(`no free ${kind} port found on ${host} after 50 attempts`);
}

/** Several distinct free ports (e.g. a SIP port for knude plus one per sipp instance). */
export async function freePorts(n: number, kind: PortKind = 'both', host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePort(kind, host));
  return out;
}
