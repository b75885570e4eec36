/**
 * UDP sockets for the SIP side of the relay, from the operator's port range (the firewall is
 * opened for exactly that range). RTP takes an even port and RTCP the next one (RFC 3550 11),
 * which some endpoints still assume even when the SDP says otherwise.
 */
import dgram from 'node:dgram';

const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export class PortRangeExhaustedError extends Error {
  override name = 'PortRangeExhaustedError';
}

export interface SocketPair {
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
  rtpPort: number;
  rtcpPort: number;
}

function bind(address: string, port: number): Promise<dgram.Socket | undefined> {
  const type = address.includes(':') ? 'udp6' : 'udp4';
  const s = dgram.createSocket({ type, reuseAddr: false });
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(undefined);
    });
    s.bind({ address, port, exclusive: true }, () => {
      s.removeAllListeners('error');
      // Room for a burst while the event loop is busy (a video keyframe is dozens of
      // packets); the kernel's default holds ~90 large packets. Capped by net.core.rmem_max.
      try {
        s.setRecvBufferSize(RECV_BUFFER_BYTES);
      } catch {
        /* the default buffer then */
      }
      resolve(s);
    });
  });
}

export class UdpPortRange {
  private cursor: number;

  constructor(
    private readonly address: string,
    private readonly min: number,
    private readonly max: number,
  ) {
    if (!(min > 0 && max <= 65535 && max - min >= 1)) throw new RangeError(`bad RTP port range ${min}-${max}`);
    this.cursor = min + (min % 2);
  }

  /** An even/odd pair of bound sockets; tries every pair of the range once before giving up. */
  async pair(): Promise<SocketPair> {
    const pairs = Math.floor((this.max - this.min + 1) / 2);
    for (let tried = 0; tried < pairs; tried++) {
      const port = this.cursor;
      this.cursor += 2;
      if (this.cursor + 1 > this.max) this.cursor = this.min + (this.min % 2);
      const rtp = await bind(this.address, port);
      if (!rtp) continue;
      const rtcp = await bind(this.address, port + 1);
      if (!rtcp) {
        rtp.close();
        continue;
      }
      return { rtp, rtcp, rtpPort: port, rtcpPort: port + 1 };
    }
    throw new PortRangeExhaustedError(`no free RTP port pair in ${this.address}:${this.min}-${this.max}`);
  }
}

/** A socket on an ephemeral loopback port: the relay's side towards Janus. */
export async function loopbackSocket(): Promise<{ socket: dgram.Socket; port: number }> {
  const s = (await bind('127.0.0.1', 0))!;
  return { socket: s, port: s.address().port };
}
